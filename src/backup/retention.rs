//! Retention (SPEC §2 `backup.retention`): which backup sets `backup prune` keeps and
//! why. Pure logic over (id, time, complete) so every rule is unit-tested here and the
//! same verdict serves the local directory and remotes alike.
//!
//! The rules are a union: a set kept by any rule is kept. `keep_daily/weekly/monthly: N`
//! count calendar periods *that have a backup* (as restic and borg do), so a host that
//! was down for a week still keeps N daily sets rather than none. Periods are UTC days,
//! ISO 8601 weeks and calendar months.
//! Past 400 lines for its tests (about 175 lines of code): calendar edge cases belong
//! beside the rule they hold.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, Utc};

use crate::config::Retention;

/// `days` when no rule at all is configured (SPEC §2).
pub const DEFAULT_DAYS: u32 = 30;
/// `keep_last` when it is not configured: never prune below one complete set.
pub const DEFAULT_KEEP_LAST: u32 = 1;
/// An incomplete set younger than this may still be being written; older, it failed.
const INCOMPLETE_GRACE_HOURS: i64 = 24;

/// One backup set as retention sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: String,
    pub created: DateTime<Utc>,
    /// The set is whole (it has its manifest). A legacy-layout set, whose files are
    /// whole by themselves, should be passed as complete.
    pub complete: bool,
}

/// The verdict on one set, with every reason that led to it (for `prune --dry-run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub id: String,
    pub keep: bool,
    pub reasons: Vec<String>,
}

/// The rules with their defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rules {
    days: Option<u32>,
    keep_last: u32,
    daily: u32,
    weekly: u32,
    monthly: u32,
}

impl Rules {
    fn from(r: &Retention) -> Self {
        let none_given = r.days.is_none()
            && r.keep_last.is_none()
            && r.keep_daily.is_none()
            && r.keep_weekly.is_none()
            && r.keep_monthly.is_none();
        Rules {
            days: if none_given { Some(DEFAULT_DAYS) } else { r.days },
            keep_last: r.keep_last.unwrap_or(DEFAULT_KEEP_LAST),
            daily: r.keep_daily.unwrap_or(0),
            weekly: r.keep_weekly.unwrap_or(0),
            monthly: r.keep_monthly.unwrap_or(0),
        }
    }
}

/// The rules in effect, defaults included, as one line: `days 30, keep_last 1`.
pub fn summary(rules: &Retention) -> String {
    let r = Rules::from(rules);
    let mut parts = Vec::new();
    if let Some(d) = r.days {
        parts.push(format!("days {d}"));
    }
    parts.push(format!("keep_last {}", r.keep_last));
    for (name, n) in [("keep_daily", r.daily), ("keep_weekly", r.weekly), ("keep_monthly", r.monthly)] {
        if n > 0 {
            parts.push(format!("{name} {n}"));
        }
    }
    parts.join(", ")
}

/// Decide which sets to keep. The result has one decision per set, in the order of
/// `sets`. The newest complete set is always kept, whatever the rules say; incomplete
/// sets are kept for 24 hours (they may be in progress) and never count towards a rule.
pub fn decide(sets: &[Candidate], rules: &Retention, now: DateTime<Utc>) -> Vec<Decision> {
    let r = Rules::from(rules);
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); sets.len()];

    // Complete sets, newest first; equal times fall back to the ID (`-2` after its twin).
    // A set dated in the future (a wrong clock, or planted) anchors nothing: counted as
    // the newest it would push every real set out of keep_last and the calendar rules.
    let future = |i: usize| super::layout::is_future(sets[i].created, now);
    let mut complete: Vec<usize> = (0..sets.len()).filter(|&i| sets[i].complete && !future(i)).collect();
    complete.sort_by(|&a, &b| (sets[b].created, &sets[b].id).cmp(&(sets[a].created, &sets[a].id)));

    // Reasons are pushed in the order they read best: the guarantee, the count rules,
    // then the age rule.
    if let Some(&newest) = complete.first() {
        reasons[newest].push("newest complete backup".into());
    }
    for &i in complete.iter().take(r.keep_last as usize) {
        reasons[i].push(format!("keep_last {}", r.keep_last));
    }
    keep_per_period(sets, &complete, r.daily, &mut reasons, |t| format!("daily {}", t.format("%Y-%m-%d")));
    keep_per_period(sets, &complete, r.weekly, &mut reasons, |t| {
        let w = t.iso_week();
        format!("weekly {:04}-W{:02}", w.year(), w.week())
    });
    keep_per_period(sets, &complete, r.monthly, &mut reasons, |t| format!("monthly {}", t.format("%Y-%m")));
    if let Some(days) = r.days {
        // `days: 4000000000` reaches before the first representable time: keep all.
        let cutoff = now.checked_sub_signed(Duration::hours(24 * i64::from(days))).unwrap_or(DateTime::<Utc>::MIN_UTC);
        for &i in &complete {
            if sets[i].created >= cutoff {
                reasons[i].push(format!("younger than {days} days"));
            }
        }
    }

    let grace = now - Duration::hours(INCOMPLETE_GRACE_HOURS);
    sets.iter()
        .zip(reasons)
        .map(|(set, reasons)| {
            let (keep, reasons) = if super::layout::is_future(set.created, now) {
                (
                    true,
                    vec![
                        "dated in the future (check the clock of the host that wrote it); kept, counted by no rule"
                            .into(),
                    ],
                )
            } else if !set.complete {
                if set.created >= grace {
                    (true, vec!["incomplete, younger than 24 hours (may still be in progress)".to_string()])
                } else {
                    (false, vec!["incomplete, older than 24 hours".to_string()])
                }
            } else if reasons.is_empty() {
                let why = match r.days {
                    Some(d) => format!("older than {d} days and kept by no rule"),
                    None => format!("kept by no rule ({})", summary(rules)),
                };
                (false, vec![why])
            } else {
                (true, reasons)
            };
            Decision { id: set.id.clone(), keep, reasons }
        })
        .collect()
}

/// Keep the newest set of each of the newest `n` periods that have a set. `complete`
/// is newest first, so the first set seen in a period is that period's newest.
fn keep_per_period(
    sets: &[Candidate],
    complete: &[usize],
    n: u32,
    reasons: &mut [Vec<String>],
    period: impl Fn(DateTime<Utc>) -> String,
) {
    let mut seen = HashSet::new();
    for &i in complete {
        if seen.len() >= n as usize {
            break;
        }
        let label = period(sets[i].created);
        if seen.insert(label.clone()) {
            reasons[i].push(label);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn a_set_dated_in_the_future_anchors_nothing_and_is_kept() {
        let now = at(2024, 6, 10, 12);
        let sets = vec![set(at(2030, 1, 1, 0)), set(at(2024, 6, 10, 2)), set(at(2024, 6, 9, 2))];
        let rules = Retention { keep_last: Some(1), days: Some(0), ..Default::default() };
        let d = decide(&sets, &rules, now);
        assert!(d[0].keep && d[0].reasons[0].contains("future"), "{d:?}");
        // The real newest set is still the newest complete backup, kept by keep_last.
        assert!(d[1].keep && d[1].reasons.iter().any(|r| r == "newest complete backup"), "{d:?}");
        assert!(!d[2].keep, "{d:?}");
    }

    fn set(t: DateTime<Utc>) -> Candidate {
        Candidate { id: t.format("%Y%m%d_%H%M%S").to_string(), created: t, complete: true }
    }

    fn incomplete(t: DateTime<Utc>) -> Candidate {
        Candidate { complete: false, ..set(t) }
    }

    fn rules(
        days: Option<u32>,
        last: Option<u32>,
        daily: Option<u32>,
        weekly: Option<u32>,
        monthly: Option<u32>,
    ) -> Retention {
        Retention { days, keep_last: last, keep_daily: daily, keep_weekly: weekly, keep_monthly: monthly }
    }

    /// IDs of the kept sets, in input order.
    fn kept(sets: &[Candidate], r: &Retention, now: DateTime<Utc>) -> Vec<String> {
        decide(sets, r, now).into_iter().filter(|d| d.keep).map(|d| d.id).collect()
    }

    fn id(t: DateTime<Utc>) -> String {
        set(t).id
    }

    fn reasons_of(sets: &[Candidate], r: &Retention, now: DateTime<Utc>, which: &str) -> Vec<String> {
        decide(sets, r, now).into_iter().find(|d| d.id == which).unwrap().reasons
    }

    #[test]
    fn no_rule_means_30_days_and_keep_last_1() {
        let now = at(2024, 3, 1, 12);
        let sets: Vec<_> =
            [now - Duration::days(29), now - Duration::days(31), now - Duration::days(60)].map(set).into();
        assert_eq!(kept(&sets, &Retention::default(), now), vec![sets[0].id.clone()]);
        assert_eq!(summary(&Retention::default()), "days 30, keep_last 1");
        let d = decide(&sets, &Retention::default(), now);
        assert_eq!(d[1].reasons, vec!["older than 30 days and kept by no rule"]);
    }

    #[test]
    fn days_keeps_everything_within_n_times_24_hours_inclusive() {
        let now = at(2024, 3, 10, 12);
        let sets: Vec<_> =
            [now - Duration::hours(48), now - Duration::hours(48) - Duration::seconds(1), now].map(set).into();
        let r = rules(Some(2), Some(0), None, None, None);
        assert_eq!(kept(&sets, &r, now), vec![sets[0].id.clone(), sets[2].id.clone()]);
        assert!(reasons_of(&sets, &r, now, &sets[0].id).contains(&"younger than 2 days".to_string()));
        let huge = rules(Some(u32::MAX), Some(0), None, None, None);
        assert_eq!(kept(&sets, &huge, now).len(), 3);
    }

    #[test]
    fn keep_last_alone_keeps_the_newest_n_complete_sets() {
        let now = at(2024, 3, 10, 12);
        let sets: Vec<_> = (1..=5).map(|d| set(at(2024, 1, d, 2))).collect();
        let r = rules(None, Some(3), None, None, None);
        assert_eq!(kept(&sets, &r, now), vec![id(at(2024, 1, 3, 2)), id(at(2024, 1, 4, 2)), id(at(2024, 1, 5, 2))]);
        assert_eq!(reasons_of(&sets, &r, now, &id(at(2024, 1, 1, 2))), vec!["kept by no rule (keep_last 3)"]);
        assert_eq!(reasons_of(&sets, &r, now, &id(at(2024, 1, 5, 2))), vec!["newest complete backup", "keep_last 3"]);
    }

    #[test]
    fn keep_last_defaults_to_one_when_other_rules_are_given() {
        let now = at(2024, 3, 10, 12);
        let sets: Vec<_> = (1..=3).map(|d| set(at(2024, 1, d, 2))).collect();
        let r = rules(Some(7), None, None, None, None);
        assert_eq!(kept(&sets, &r, now), vec![id(at(2024, 1, 3, 2))]);
        assert!(reasons_of(&sets, &r, now, &id(at(2024, 1, 3, 2))).contains(&"keep_last 1".to_string()));
        assert_eq!(summary(&r), "days 7, keep_last 1");
    }

    #[test]
    fn a_rule_without_days_does_not_imply_the_30_day_default() {
        let now = at(2024, 1, 10, 12);
        // All within 30 days, yet only keep_daily 1 (and keep_last 1) apply.
        let sets: Vec<_> = (5..=9).map(|d| set(at(2024, 1, d, 2))).collect();
        let r = rules(None, None, Some(1), None, None);
        assert_eq!(kept(&sets, &r, now), vec![id(at(2024, 1, 9, 2))]);
    }

    #[test]
    fn daily_counts_days_that_have_a_backup_not_calendar_days() {
        let now = at(2024, 1, 20, 12);
        // Days 1, 2 and 5; two sets on day 2. keep_daily 2 → day 5 and day 2's newest.
        let sets: Vec<_> =
            [at(2024, 1, 1, 2), at(2024, 1, 2, 2), at(2024, 1, 2, 14), at(2024, 1, 5, 2)].map(set).into();
        let r = rules(None, Some(0), Some(2), None, None);
        assert_eq!(kept(&sets, &r, now), vec![id(at(2024, 1, 2, 14)), id(at(2024, 1, 5, 2))]);
        assert_eq!(reasons_of(&sets, &r, now, &id(at(2024, 1, 2, 14))), vec!["daily 2024-01-02"]);
    }

    #[test]
    fn only_the_newest_set_of_a_day_counts_for_daily() {
        let now = at(2024, 1, 20, 12);
        let sets: Vec<_> = [0, 6, 12, 18, 23].map(|h| set(at(2024, 1, 3, h))).into();
        let r = rules(None, Some(0), Some(7), None, None);
        assert_eq!(kept(&sets, &r, now), vec![id(at(2024, 1, 3, 23))]);
    }

    #[test]
    fn days_are_utc_days() {
        let now = at(2024, 1, 20, 12);
        // 23:59:59 and 00:00:00 UTC are different days even if local time says otherwise.
        let late = Utc.with_ymd_and_hms(2024, 1, 3, 23, 59, 59).unwrap();
        let early = Utc.with_ymd_and_hms(2024, 1, 4, 0, 0, 0).unwrap();
        let sets = vec![set(late), set(early)];
        let r = rules(None, Some(0), Some(2), None, None);
        assert_eq!(kept(&sets, &r, now), vec![id(late), id(early)]);
    }

    #[test]
    fn weekly_uses_iso_weeks_across_the_year_boundary() {
        let now = at(2025, 2, 1, 12);
        // Thu 2020-12-31 and Sun 2021-01-03 are both 2020-W53; Mon 2021-01-04 is 2021-W01.
        let sets: Vec<_> = [at(2020, 12, 31, 2), at(2021, 1, 3, 2), at(2021, 1, 4, 2)].map(set).into();
        let r = rules(None, Some(0), None, Some(2), None);
        assert_eq!(kept(&sets, &r, now), vec![id(at(2021, 1, 3, 2)), id(at(2021, 1, 4, 2))]);
        assert_eq!(reasons_of(&sets, &r, now, &id(at(2021, 1, 3, 2))), vec!["weekly 2020-W53"]);
        // Mon 2024-12-30 already belongs to 2025-W01.
        let sets = vec![set(at(2024, 12, 30, 2))];
        assert_eq!(
            reasons_of(&sets, &r, now, &id(at(2024, 12, 30, 2))),
            vec!["newest complete backup", "weekly 2025-W01"]
        );
    }

    #[test]
    fn monthly_uses_calendar_months_with_gaps() {
        let now = at(2024, 12, 1, 12);
        // January twice, nothing in February, one in March at its very first second.
        let jan_end = Utc.with_ymd_and_hms(2024, 1, 31, 23, 59, 59).unwrap();
        let mar_start = Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap();
        let sets = vec![set(at(2023, 12, 15, 2)), set(at(2024, 1, 10, 2)), set(jan_end), set(mar_start)];
        let r = rules(None, Some(0), None, None, Some(2));
        assert_eq!(kept(&sets, &r, now), vec![id(jan_end), id(mar_start)]);
        assert_eq!(reasons_of(&sets, &r, now, &id(jan_end)), vec!["monthly 2024-01"]);
    }

    #[test]
    fn rules_combine_as_a_union_with_every_reason_listed() {
        let now = at(2024, 3, 31, 12);
        // One set a day at 02:00 from Jan 1 to Mar 31.
        let sets: Vec<_> = (0..91).map(|d| set(at(2024, 1, 1, 2) + Duration::days(d))).collect();
        let r = rules(Some(3), Some(2), Some(5), Some(3), Some(3));
        let k = kept(&sets, &r, now);
        // days 3: Mar 29..31 (Mar 28 02:00 is 3 days 10 h old); daily 5: Mar 27..31;
        // weekly 3: Sun Mar 31, Sun Mar 24, Sun Mar 17; monthly 3: Mar 31, Feb 29, Jan 31.
        let expected: Vec<String> = [
            at(2024, 1, 31, 2),
            at(2024, 2, 29, 2),
            at(2024, 3, 17, 2),
            at(2024, 3, 24, 2),
            at(2024, 3, 27, 2),
            at(2024, 3, 28, 2),
            at(2024, 3, 29, 2),
            at(2024, 3, 30, 2),
            at(2024, 3, 31, 2),
        ]
        .map(id)
        .into();
        assert_eq!(k, expected);
        assert_eq!(
            reasons_of(&sets, &r, now, &id(at(2024, 3, 31, 2))),
            vec![
                "newest complete backup",
                "keep_last 2",
                "daily 2024-03-31",
                "weekly 2024-W13",
                "monthly 2024-03",
                "younger than 3 days"
            ]
        );
    }

    #[test]
    fn never_deletes_every_complete_set() {
        let now = at(2024, 6, 1, 12);
        let sets: Vec<_> = [at(2024, 1, 1, 2), at(2024, 1, 2, 2)].map(set).into();
        let r = rules(Some(1), Some(0), Some(0), None, None);
        assert_eq!(kept(&sets, &r, now), vec![id(at(2024, 1, 2, 2))]);
        assert_eq!(reasons_of(&sets, &r, now, &id(at(2024, 1, 2, 2))), vec!["newest complete backup"]);
    }

    #[test]
    fn incomplete_sets_are_kept_for_24_hours_then_deleted() {
        let now = at(2024, 6, 1, 12);
        let sets =
            vec![set(at(2024, 5, 1, 2)), incomplete(now - Duration::hours(23)), incomplete(now - Duration::hours(25))];
        let d = decide(&sets, &Retention::default(), now);
        assert!(d[1].keep);
        assert!(d[1].reasons[0].starts_with("incomplete, younger than 24 hours"));
        assert!(!d[2].keep);
        assert_eq!(d[2].reasons, vec!["incomplete, older than 24 hours"]);
        // Within `days`, a failed set still goes: it can never be restored.
        assert!(!decide(&[incomplete(now - Duration::days(2))], &Retention::default(), now)[0].keep);
    }

    #[test]
    fn incomplete_sets_never_count_towards_a_rule() {
        let now = at(2024, 6, 1, 12);
        // The newest set and the only one on June 1 are incomplete: keep_last 1 and
        // keep_daily 1 must still pick the newest complete set, of May 31.
        let sets = vec![set(at(2024, 5, 30, 2)), set(at(2024, 5, 31, 2)), incomplete(at(2024, 6, 1, 2))];
        let r = rules(None, Some(1), Some(1), None, None);
        assert_eq!(kept(&sets, &r, now), vec![id(at(2024, 5, 31, 2)), id(at(2024, 6, 1, 2))]);
        assert_eq!(
            reasons_of(&sets, &r, now, &id(at(2024, 5, 31, 2))),
            vec!["newest complete backup", "keep_last 1", "daily 2024-05-31"]
        );
        // Only incomplete sets: nothing complete to protect, old failures still go.
        let only = vec![incomplete(at(2024, 5, 1, 2))];
        assert!(kept(&only, &Retention::default(), now).is_empty());
    }

    #[test]
    fn output_follows_input_order_and_ties_break_on_the_id() {
        let now = at(2024, 6, 1, 12);
        let t = at(2024, 5, 31, 2);
        let twin = Candidate { id: format!("{}-2", id(t)), created: t, complete: true };
        let sets = vec![twin.clone(), set(at(2024, 5, 1, 2)), set(t)];
        let r = rules(None, Some(1), None, None, None);
        let d = decide(&sets, &r, now);
        assert_eq!(
            d.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            vec![twin.id.as_str(), "20240501_020000", "20240531_020000"]
        );
        // The `-2` set was taken after its twin in the same second: it is the newest.
        assert_eq!(d.iter().map(|d| d.keep).collect::<Vec<_>>(), vec![true, false, false]);
        assert!(decide(&[], &r, now).is_empty());
    }

    #[test]
    fn zero_counts_keep_nothing_by_themselves() {
        let now = at(2024, 6, 1, 12);
        let sets: Vec<_> = [at(2024, 5, 1, 2), at(2024, 5, 2, 2)].map(set).into();
        let r = rules(None, Some(0), Some(0), Some(0), Some(0));
        assert_eq!(kept(&sets, &r, now), vec![id(at(2024, 5, 2, 2))]);
        assert_eq!(reasons_of(&sets, &r, now, &id(at(2024, 5, 1, 2))), vec!["kept by no rule (keep_last 0)"]);
    }
}
