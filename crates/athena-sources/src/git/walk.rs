//! Which commits a sync must store, in a deterministic oldest-first order.

use std::collections::{BTreeMap, HashSet};

use gix::hash::ObjectId;
use gix::revision::walk::Sorting;
use gix::traverse::commit::simple::CommitTimeOrder;

/// Commits to store, oldest first, with the configured branches that contain each.
pub(crate) struct Plan {
    pub commits: Vec<ObjectId>,
    /// For each configured branch (in `branch_names` order), the commits of this plan it reaches.
    /// Empty when only one branch is followed: then every commit is on it.
    pub reach: Vec<HashSet<ObjectId>>,
    pub branch_names: Vec<String>,
}

impl Plan {
    pub fn branches_of(&self, id: &ObjectId) -> Vec<String> {
        if self.reach.is_empty() {
            return self.branch_names.clone();
        }
        self.branch_names
            .iter()
            .zip(&self.reach)
            .filter(|(_, set)| set.contains(id))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// Resolves each configured branch to the commit it points at. `HEAD` of a repository without
/// commits resolves to nothing.
pub(crate) fn resolve_tips(
    repo: &gix::Repository,
    branches: &[String],
) -> Result<BTreeMap<String, ObjectId>, String> {
    let mut tips = BTreeMap::new();
    for name in branches {
        if name == "HEAD" {
            let head = repo.head().map_err(|e| format!("reading HEAD: {e}"))?;
            if head.is_unborn() {
                continue;
            }
            let id = repo
                .head_commit()
                .map_err(|e| format!("HEAD does not point at a commit: {e}"))?
                .id;
            tips.insert(name.clone(), id);
            continue;
        }
        let candidates = [
            name.clone(),
            format!("refs/heads/{name}"),
            format!("refs/remotes/{name}"),
            format!("refs/tags/{name}"),
        ];
        let mut found = None;
        for candidate in candidates
            .iter()
            .filter(|c| c.starts_with("refs/") || *c == name)
        {
            let reference = repo
                .try_find_reference(candidate.as_str())
                .map_err(|e| format!("reading ref {candidate}: {e}"))?;
            if let Some(mut r) = reference {
                let commit = r
                    .peel_to_commit()
                    .map_err(|e| format!("branch {name:?} does not point at a commit: {e}"))?;
                found = Some(commit.id);
                break;
            }
        }
        match found {
            Some(id) => {
                tips.insert(name.clone(), id);
            }
            None => return Err(format!("branch {name:?} not found")),
        }
    }
    Ok(tips)
}

/// Plans the walk from the stored `from` tips to the `to` tips: every commit reachable from `to`
/// and from none of the `from` tips that still exist.
///
/// Hiding every old tip is exact even after a force-push: whatever an old tip reaches was stored
/// when that tip was, and the rewritten commits are not reachable from it.
pub(crate) fn plan(
    repo: &gix::Repository,
    from: &BTreeMap<String, String>,
    to: &BTreeMap<String, ObjectId>,
    branch_names: &[String],
) -> Result<Plan, String> {
    let hidden: Vec<ObjectId> = from
        .values()
        .filter_map(|hex| ObjectId::from_hex(hex.as_bytes()).ok())
        .filter(|id| repo.has_object(id))
        .collect();
    let walk = |tips: Vec<ObjectId>| -> Result<Vec<ObjectId>, String> {
        if tips.is_empty() {
            return Ok(Vec::new());
        }
        let iter = repo
            .rev_walk(tips)
            .with_hidden(hidden.iter().copied())
            .sorting(Sorting::ByCommitTime(CommitTimeOrder::NewestFirst))
            .all()
            .map_err(|e| format!("walking history: {e}"))?;
        let mut ids = Vec::new();
        for info in iter {
            ids.push(info.map_err(|e| format!("walking history: {e}"))?.id);
        }
        Ok(ids)
    };
    let all_tips: Vec<ObjectId> = to.values().copied().collect();
    let mut commits = walk(all_tips)?;
    commits.reverse();
    let branch_names: Vec<String> = branch_names
        .iter()
        .filter(|b| to.contains_key(*b))
        .cloned()
        .collect();
    let reach = if branch_names.len() > 1 {
        branch_names
            .iter()
            .map(|b| match to.get(b) {
                Some(tip) => walk(vec![*tip]).map(|ids| ids.into_iter().collect()),
                None => Ok(HashSet::new()),
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    Ok(Plan {
        commits,
        reach,
        branch_names,
    })
}

/// Whether `old` is an ancestor of `new` (the branch moved forward, no rewrite).
pub(crate) fn is_ancestor(repo: &gix::Repository, old: ObjectId, new: ObjectId) -> bool {
    old == new || matches!(repo.merge_base(old, new), Ok(Some(base)) if base.detach() == old)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn commit(dir: &Path, msg: &str, when: u32) -> ObjectId {
        let date = format!("{} +0000", 1_700_000_000 + when);
        let out = Command::new("git")
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_COMMITTER_DATE", &date)
            .env("GIT_AUTHOR_DATE", &date)
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(["commit", "-q", "--allow-empty", "-m", msg])
            .output()
            .unwrap();
        assert!(out.status.success());
        ObjectId::from_hex(git(dir, &["rev-parse", "HEAD"]).as_bytes()).unwrap()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plans_oldest_first_hide_stored_tips_and_know_branches() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        let a = commit(d, "a", 1);
        let b = commit(d, "b", 2);
        git(d, &["checkout", "-q", "-b", "side"]);
        let s = commit(d, "s", 3);
        git(d, &["checkout", "-q", "main"]);
        let c = commit(d, "c", 4);
        let repo = gix::open(d).unwrap();
        let branches = names(&["main", "side"]);
        let tips = resolve_tips(&repo, &branches).unwrap();
        assert_eq!((tips["main"], tips["side"]), (c, s));

        let full = plan(&repo, &BTreeMap::new(), &tips, &branches).unwrap();
        assert_eq!(full.commits, [a, b, s, c]);
        assert_eq!(full.branches_of(&a), names(&["main", "side"]));
        assert_eq!(full.branches_of(&s), names(&["side"]));
        assert_eq!(full.branches_of(&c), names(&["main"]));

        // With `b` stored as main's tip, only what `b` does not reach is planned.
        let stored = BTreeMap::from([("main".to_string(), b.to_string())]);
        let rest = plan(&repo, &stored, &tips, &branches).unwrap();
        assert_eq!(rest.commits, [s, c]);

        // A stored tip that no longer exists is ignored, not an error.
        let gone = BTreeMap::from([("main".to_string(), "ab".repeat(20))]);
        assert_eq!(
            plan(&repo, &gone, &tips, &branches).unwrap().commits.len(),
            4
        );

        assert!(is_ancestor(&repo, a, c));
        assert!(!is_ancestor(&repo, s, c));
        let err = resolve_tips(&repo, &names(&["nope"])).unwrap_err();
        assert_eq!(err, "branch \"nope\" not found");
    }

    #[test]
    fn an_empty_repository_has_no_head_tip() {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q"]);
        let repo = gix::open(dir.path()).unwrap();
        assert!(resolve_tips(&repo, &names(&["HEAD"])).unwrap().is_empty());
    }
}
