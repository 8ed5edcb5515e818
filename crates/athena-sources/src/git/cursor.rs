//! The git source's cursor: the last stored tip of each branch, and a walk in progress.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version 1:
///
/// ```json
/// {"version":1,"tips":{"main":"<sha>"},"pending":{"targets":{"main":"<sha>"},"heads":["<sha>"]}}
/// ```
///
/// `tips` are the branch tips whose whole history is stored. `pending` exists while a walk from
/// `tips` to `targets` is part-way stored: every commit reachable from `tips` or from one of
/// `heads` is stored (commits are stored parents first, so the stored part of a walk is exactly
/// what its heads reach).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GitCursor {
    pub version: u32,
    pub tips: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub targets: BTreeMap<String, String>,
    pub heads: Vec<String>,
}

pub(crate) const VERSION: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_1_reads_from_a_fixed_string() {
        let text = r#"{"version":1,"tips":{"main":"aa"},"pending":{"targets":{"main":"bb"},"heads":["cc","dd"]}}"#;
        let c: GitCursor = serde_json::from_str(text).unwrap();
        assert_eq!(c.version, 1);
        assert_eq!(c.tips["main"], "aa");
        let p = c.pending.as_ref().unwrap();
        assert_eq!(p.targets["main"], "bb");
        assert_eq!(p.heads, ["cc", "dd"]);
        assert_eq!(serde_json::to_string(&c).unwrap(), text);
        let done: GitCursor = serde_json::from_str(r#"{"version":1,"tips":{}}"#).unwrap();
        assert!(done.pending.is_none());
        assert_eq!(
            serde_json::to_string(&done).unwrap(),
            r#"{"version":1,"tips":{}}"#
        );
    }
}
