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
