//! The store conformance suite: what every store must do, written only against
//! `athena_core::Store` and `athena_core::recall::Recall`, so that SQLite and any later store
//! (PostgreSQL) are held to the same contract.
//!
//! A store joins by implementing [`Fixture`] (how to open it, reopen it, read it, and make it
//! refuse a batch) and expanding [`store_conformance!`](crate::store_conformance) in a test
//! module: one `#[test]` per case, so a test runner lists and runs each case by name. The
//! cases: the atomic batch (`write`), duplicates, cursors and state across restarts, fencing of
//! a failed source through the engine (`fencing`), recall paging while events arrive and the
//! query budget (`recall`), every filter and the full-text search (`filters`), the any-word
//! fallback (`search`), the timeline
//! (`timeline`), the feeds' outbox (`outbox`). Compiled for athena-store's own tests and with the `conformance` feature.

mod fencing;
mod filters;
mod links;
mod outbox;
mod people;
mod recall;
mod search;
mod support;
mod timeline;
mod write;

use athena_core::recall::Recall;
use athena_core::Store;

pub use fencing::a_source_fenced_after_a_refused_batch_stores_nothing_more_and_resumes_after_it;
pub use filters::{
    a_limit_beyond_any_count_returns_everything, a_malformed_or_too_costly_search_is_refused,
    every_filter_narrows_queries_pages_and_the_timeline_alike,
    full_text_phrases_or_not_and_prefixes, full_text_plain_words_must_all_match,
    the_actor_filter_is_a_case_insensitive_substring_without_wildcards,
    the_outcome_filter_keeps_events_that_ended_so,
};
pub use links::{
    events_are_related_through_the_things_they_are_about_and_mention,
    linked_events_share_the_work_item_they_name_as_a_session,
    relink_finds_every_events_things_again,
};
pub use outbox::{
    a_feed_records_its_progress_and_subjects_and_the_published_are_trimmed,
    the_outbox_holds_each_stored_batch_once_with_the_events_it_stored,
};
pub use people::{
    a_later_join_makes_two_handles_one_person_for_earlier_events_too,
    configured_people_win_over_what_the_data_joins,
};
pub use recall::{
    a_search_pages_through_many_events_as_a_full_sort_would,
    a_spent_budget_interrupts_every_recall_query, one_event_by_its_source_and_id,
    pages_follow_each_other_in_both_orders_and_ties_keep_storing_order,
    paging_while_events_arrive_repeats_and_skips_nothing,
};
pub use search::no_event_with_every_word_falls_back_to_any_word_best_first;
pub use timeline::{
    the_timeline_counts_calendar_months_from_their_first_day,
    the_timeline_counts_per_hour_day_and_week_and_source,
};
pub use write::{
    a_batch_stores_its_events_dead_letters_state_and_cursor_together,
    a_dead_letter_read_again_is_kept_once, a_refused_batch_leaves_nothing,
    a_staged_batch_never_committed_is_gone_after_a_restart, an_event_reads_back_as_it_was_written,
    cursors_state_and_events_survive_a_restart,
    duplicates_within_and_across_batches_are_counted_and_the_first_is_kept,
    reset_forgets_the_cursor_and_state_and_keeps_the_events, runs_and_counts_show_in_the_status,
    staged_batches_commit_together_and_a_refused_one_leaves_the_others,
    state_changes_set_replace_and_remove_keys,
    the_kinds_of_each_source_are_counted_as_events_are_stored,
};

/// One store under test: the cases make a fresh fixture each (an empty store of its own) and
/// reach the store only through it.
pub trait Fixture {
    /// The writing side.
    type Store: Store + 'static;
    /// The reading side.
    type Recall: Recall;

    /// Opens the fixture's store for writing, as a sync would. Called again after the
    /// previous handle was dropped, it opens the same store anew: a restart, after which
    /// only what was committed may be there.
    fn open(&self) -> Self::Store;

    /// A reader of the store `store` has open, seeing every batch committed before its query
    /// begins (and nothing staged but not yet committed).
    fn recall(&self, store: &Self::Store) -> Self::Recall;

    /// From now on, `store` refuses (the commit fails with an error) every batch whose cursor
    /// holds `"refuse": true`. It must fail at the batch's last write, after its events, dead
    /// letters and state changes are written, so that the cases see that a failed batch
    /// leaves none of them behind. The refusal lasts when the store is reopened.
    fn refuse_marked_batches(&self, store: &mut Self::Store);
}

/// Expands to one `#[test]` per case of the suite, each on a fixture made by evaluating
/// `$fresh` (an expression whose value implements [`Fixture`]):
///
/// ```ignore
/// mod conformance {
///     athena_store::store_conformance!(super::PgFixture::new());
/// }
/// ```
#[macro_export]
macro_rules! store_conformance {
    ($fresh:expr) => {
        $crate::store_conformance!(@cases $fresh;
            an_event_reads_back_as_it_was_written,
            a_batch_stores_its_events_dead_letters_state_and_cursor_together,
            a_refused_batch_leaves_nothing,
            staged_batches_commit_together_and_a_refused_one_leaves_the_others,
            duplicates_within_and_across_batches_are_counted_and_the_first_is_kept,
            a_dead_letter_read_again_is_kept_once,
            state_changes_set_replace_and_remove_keys,
            cursors_state_and_events_survive_a_restart,
            a_staged_batch_never_committed_is_gone_after_a_restart,
            reset_forgets_the_cursor_and_state_and_keeps_the_events,
            runs_and_counts_show_in_the_status,
            the_kinds_of_each_source_are_counted_as_events_are_stored,
            the_outbox_holds_each_stored_batch_once_with_the_events_it_stored,
            a_feed_records_its_progress_and_subjects_and_the_published_are_trimmed,
            a_source_fenced_after_a_refused_batch_stores_nothing_more_and_resumes_after_it,
            pages_follow_each_other_in_both_orders_and_ties_keep_storing_order,
            paging_while_events_arrive_repeats_and_skips_nothing,
            one_event_by_its_source_and_id,
            a_spent_budget_interrupts_every_recall_query,
            a_search_pages_through_many_events_as_a_full_sort_would,
            every_filter_narrows_queries_pages_and_the_timeline_alike,
            the_actor_filter_is_a_case_insensitive_substring_without_wildcards,
            a_limit_beyond_any_count_returns_everything,
            full_text_plain_words_must_all_match,
            full_text_phrases_or_not_and_prefixes,
            a_malformed_or_too_costly_search_is_refused,
            the_outcome_filter_keeps_events_that_ended_so,
            no_event_with_every_word_falls_back_to_any_word_best_first,
            the_timeline_counts_per_hour_day_and_week_and_source,
            the_timeline_counts_calendar_months_from_their_first_day,
            events_are_related_through_the_things_they_are_about_and_mention,
            relink_finds_every_events_things_again,
            linked_events_share_the_work_item_they_name_as_a_session,
            a_later_join_makes_two_handles_one_person_for_earlier_events_too,
            configured_people_win_over_what_the_data_joins,
        );
    };
    (@cases $fresh:expr; $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                let fixture = $fresh;
                $crate::conformance::$case(&fixture);
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    /// A case written but left out of `store_conformance!` would never run against any store.
    #[test]
    fn every_case_is_expanded_by_the_macro() {
        let this = include_str!("mod.rs");
        let start = this.find("macro_rules! store_conformance").unwrap();
        let end = this[start..].find("(@cases $fresh:expr;").unwrap() + start;
        let listed: Vec<&str> = this[start..end]
            .lines()
            .map(|l| l.trim().trim_end_matches(','))
            .filter(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .collect();
        let files = [
            include_str!("write.rs"),
            include_str!("fencing.rs"),
            include_str!("recall.rs"),
            include_str!("filters.rs"),
            include_str!("search.rs"),
            include_str!("timeline.rs"),
            include_str!("outbox.rs"),
            include_str!("links.rs"),
            include_str!("people.rs"),
        ];
        let mut cases: Vec<&str> = files
            .iter()
            .flat_map(|f| f.lines())
            .filter_map(|l| l.strip_prefix("pub fn "))
            .map(|rest| rest.split(['<', '(']).next().unwrap())
            .collect();
        let mut sorted = listed.clone();
        sorted.sort_unstable();
        cases.sort_unstable();
        assert_eq!(
            sorted, cases,
            "the macro's cases and the suite's `pub fn`s differ"
        );
    }
}
