//! The `[links]` table: how references across sources are found (see [`crate::links`]).

use std::sync::Arc;

use super::Declared;
use crate::links::{Linker, ScanConfig, Scanner};

crate::declare_config! {
    /// Settings of the links between events (`[links]` table).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LinksSettings {
        /// Whether each stored event's references are found and stored with it (`related`
        /// answers from them).
        pub enabled: bool = true,
        /// Only these project keys make issue keys (`["PROJ", "ENG"]`: Jira's and Linear's);
        /// empty: any word shaped like one (`ABC-123`) but a few that never are (`UTF-8`,
        /// `SHA-256`).
        #[key(default_text = "any")]
        pub project_keys: Vec<String> = Vec::new(),
        /// Hosts serving GitHub besides github.com (GitHub Enterprise: `"git.corp.com"`).
        pub github_hosts: Vec<String> = Vec::new(),
        /// Hosts serving Jira besides `*.atlassian.net` (Jira Data Center).
        pub jira_hosts: Vec<String> = Vec::new(),
    }
}

impl Default for LinksSettings {
    fn default() -> Self {
        LinksSettings::defaults().expect("every links setting has a default")
    }
}

impl LinksSettings {
    /// The scanner these settings describe.
    pub fn scanner(&self) -> Scanner {
        let lower = |hosts: &[String]| hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
        Scanner::new(ScanConfig {
            project_keys: self.project_keys.iter().cloned().collect(),
            github_hosts: lower(&self.github_hosts),
            jira_hosts: lower(&self.jira_hosts),
        })
    }

    /// What finds each event's things and people: these settings' scanner and the people each
    /// type of `registry` reads; `None` when links are turned off.
    pub fn linker(&self, registry: &crate::Registry) -> Option<Arc<Linker>> {
        self.enabled
            .then(|| Arc::new(Linker::new(self.scanner()).with_people_of(registry)))
    }
}
