//! Cron's schedule syntax: five fields or an `@` shorthand, checked as cron reads them so
//! that a typo fails when the line is installed, not silently at 2 a.m.

/// One field of the five: its name, its range, and the names cron accepts for it.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const FIELDS: [Field; 5] = [
    Field { name: "minute", min: 0, max: 59, names: &[] },
    Field { name: "hour", min: 0, max: 23, names: &[] },
    Field { name: "day-of-month", min: 1, max: 31, names: &[] },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    },
    // 0 and 7 are both Sunday.
    Field { name: "day-of-week", min: 0, max: 7, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

/// The `@` shorthands of Vixie cron and cronie.
const SPECIAL: [&str; 8] = ["@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/// Check a schedule as cron reads it: five fields (`*`, numbers in range, names for
/// month and day of week, lists, ranges, `/step` after `*` or a range) or an `@`
/// shorthand. Stricter than cron where cron accepts nonsense (`5-1`, `*/5/2`).
pub fn validate_cron(expr: &str) -> Result<(), String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if let [one] = fields.as_slice() {
        if one.starts_with('@') {
            return if SPECIAL.contains(one) {
                Ok(())
            } else {
                Err(format!("`{one}` is not a cron shorthand (known: {})", SPECIAL.join(", ")))
            };
        }
    }
    if fields.len() != 5 {
        let n = fields.len();
        let extra = if n > 5 { ", and ccops adds the command itself" } else { "" };
        return Err(format!("it has {n} field{}, cron wants 5{extra}", if n == 1 { "" } else { "s" }));
    }
    for (text, field) in fields.iter().zip(FIELDS.iter()) {
        validate_field(text, field).map_err(|why| format!("{} field `{text}`: {why}", field.name))?;
    }
    Ok(())
}

fn validate_field(text: &str, f: &Field) -> Result<(), String> {
    for item in text.split(',') {
        if item.is_empty() {
            return Err("empty list item".into());
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        if let Some(s) = step {
            let n: u32 = s.parse().map_err(|_| format!("step `{s}` is not a number"))?;
            if n == 0 {
                return Err("a step must be at least 1".into());
            }
            if range != "*" && !range.contains('-') {
                return Err(format!("a step needs `*` or a range before it (`*/{s}` or `{range}-{}/{s}`)", f.max));
            }
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((a, b)) => {
                let (lo, hi) = (value(a, f)?, value(b, f)?);
                if lo > hi {
                    return Err(format!("range `{range}` runs backwards; write it low-high"));
                }
            }
            None => {
                value(range, f)?;
            }
        }
    }
    Ok(())
}

/// A number in the field's range, or one of its names (`jan`, `mon`, any case).
fn value(text: &str, f: &Field) -> Result<u32, String> {
    if let Some((_, v)) = f.names.iter().zip(f.min..).find(|(n, _)| n.eq_ignore_ascii_case(text)) {
        return Ok(v);
    }
    let n: u32 = text.parse().map_err(|_| {
        if f.names.is_empty() {
            format!("`{text}` is not a number")
        } else {
            format!("`{text}` is not a number or a three-letter name like `{}`", f.names[0])
        }
    })?;
    if n < f.min || n > f.max {
        return Err(format!("{n} is outside {}-{}", f.min, f.max));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_schedules_pass() {
        for ok in [
            "0 2 * * *",
            "*/15 * * * *",
            "0 0-23/2 * * *",
            "5,35 8-18 * * mon-fri",
            "0 3 1 jan,JUL *",
            "0 3 * * 7",
            "0 3 * * 1-7",
            "0 3 * * sat,SUN",
            "59 23 31 12 6",
            "@daily",
            "@hourly",
            "@weekly",
            "@monthly",
            "@reboot",
            "  0   2 * * *  ",
        ] {
            assert_eq!(validate_cron(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        for (bad, why) in [
            ("", "0 fields"),
            ("* * * *", "4 fields"),
            ("0 2 * * * /usr/bin/backup", "6 fields, cron wants 5, and ccops adds the command"),
            ("60 * * * *", "minute field `60`: 60 is outside 0-59"),
            ("0 24 * * *", "hour field `24`"),
            ("0 2 0 * *", "day-of-month field `0`: 0 is outside 1-31"),
            ("0 2 * 13 *", "month field `13`"),
            ("0 2 * * 8", "day-of-week field `8`"),
            ("0 2 * * sunday", "three-letter name like `sun`"),
            ("0 2 * mon *", "month field `mon`"),
            ("jan 2 * * *", "minute field `jan`: `jan` is not a number"),
            ("*/0 * * * *", "step must be at least 1"),
            ("5/10 * * * *", "needs `*` or a range"),
            ("*/5/2 * * * *", "step `5/2` is not a number"),
            ("5-1 * * * *", "runs backwards"),
            ("0 3 * * 1-sun", "runs backwards"),
            ("1,,2 * * * *", "empty list item"),
            ("@dayly", "not a cron shorthand"),
            ("@daily 0", "2 fields"),
        ] {
            let e = validate_cron(bad).expect_err(bad);
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
