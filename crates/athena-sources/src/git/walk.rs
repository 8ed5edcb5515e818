//! Which commits a sync must store, in a deterministic oldest-first order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use gix::hash::ObjectId;
use gix::revision::walk::Sorting;
use gix::traverse::commit::simple::CommitTimeOrder;

/// Commits to store, parents before children, with the configured branches that contain each.
pub(crate) struct Plan {
    pub commits: Vec<ObjectId>,
    /// The parents of each commit (all of them, inside the plan or not).
    pub parents: Vec<Vec<ObjectId>>,
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

/// The commits among `hex` ids that exist in the repository: a stored tip that was pruned
/// since cannot hide anything.
pub(crate) fn existing<'a>(
    repo: &gix::Repository,
    hex: impl IntoIterator<Item = &'a String>,
) -> Vec<ObjectId> {
    hex.into_iter()
        .filter_map(|h| ObjectId::from_hex(h.as_bytes()).ok())
        .filter(|id| repo.has_object(id))
        .collect()
}

/// Plans the walk to the `to` tips: every commit they reach that none of `hidden` reaches, in a
/// topological order (parents first; among commits that are free to go, the oldest by commit
/// time, then the smallest id).
///
/// Storing in this order keeps the stored part of a walk closed under ancestry, so "everything
/// reachable from these heads" describes it exactly and a resumed walk need not reproduce any
/// order. Hiding every stored tip is exact even after a force-push: whatever an old tip reaches
/// was stored when that tip was, and the rewritten commits are not reachable from it.
pub(crate) fn plan(
    repo: &gix::Repository,
    hidden: &[ObjectId],
    to: &BTreeMap<String, ObjectId>,
    branch_names: &[String],
) -> Result<Plan, String> {
    let walk = |tips: Vec<ObjectId>| -> Result<Vec<gix::revision::walk::Info<'_>>, String> {
        if tips.is_empty() {
            return Ok(Vec::new());
        }
        let iter = repo
            .rev_walk(tips)
            .with_hidden(hidden.iter().copied())
            .sorting(Sorting::ByCommitTime(CommitTimeOrder::NewestFirst))
            .all()
            .map_err(|e| format!("walking history: {e}"))?;
        iter.map(|info| info.map_err(|e| format!("walking history: {e}")))
            .collect()
    };
    let infos = walk(to.values().copied().collect())?;
    let (commits, parents) = topological(&infos);
    let branch_names: Vec<String> = branch_names
        .iter()
        .filter(|b| to.contains_key(*b))
        .cloned()
        .collect();
    let reach = if branch_names.len() > 1 {
        branch_names
            .iter()
            .map(|b| walk(vec![to[b]]).map(|infos| infos.iter().map(|i| i.id).collect()))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    Ok(Plan {
        commits,
        parents,
        reach,
        branch_names,
    })
}

/// Kahn's algorithm over the walked commits, ties broken by (commit time, id) so the order
/// depends only on the set of commits.
fn topological(infos: &[gix::revision::walk::Info<'_>]) -> (Vec<ObjectId>, Vec<Vec<ObjectId>>) {
    let index: HashMap<ObjectId, usize> =
        infos.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let mut waiting = vec![0u32; infos.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); infos.len()];
    for (i, info) in infos.iter().enumerate() {
        for parent in info.parent_ids() {
            if let Some(&p) = index.get(&parent.detach()) {
                waiting[i] += 1;
                children[p].push(i);
            }
        }
    }
    let key = |i: usize| Reverse((infos[i].commit_time.unwrap_or(0), infos[i].id, i));
    let mut ready: BinaryHeap<_> = (0..infos.len())
        .filter(|&i| waiting[i] == 0)
        .map(key)
        .collect();
    let mut commits = Vec::with_capacity(infos.len());
    let mut parents = Vec::with_capacity(infos.len());
    while let Some(Reverse((_, id, i))) = ready.pop() {
        commits.push(id);
        parents.push(infos[i].parent_ids().map(|p| p.detach()).collect());
        for &c in &children[i] {
            waiting[c] -= 1;
            if waiting[c] == 0 {
                ready.push(key(c));
            }
        }
    }
    (commits, parents)
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

        let full = plan(&repo, &[], &tips, &branches).unwrap();
        assert_eq!(full.commits, [a, b, s, c]);
        assert_eq!(full.branches_of(&a), names(&["main", "side"]));
        assert_eq!(full.branches_of(&s), names(&["side"]));
        assert_eq!(full.branches_of(&c), names(&["main"]));

        // With `b` stored as main's tip, only what `b` does not reach is planned.
        let rest = plan(&repo, &[b], &tips, &branches).unwrap();
        assert_eq!(rest.commits, [s, c]);
        assert_eq!(rest.parents, [vec![b], vec![b]]);

        // A stored tip that no longer exists is ignored, not an error.
        let stored = [b.to_string(), "ab".repeat(20)];
        assert_eq!(existing(&repo, &stored), [b]);

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
