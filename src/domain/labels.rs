//! Tags and notes: the operator's own labels on a number or an account (a Numbat addition;
//! ACG has neither). A tag is short text to filter by; a note is free text for people.
//!
//! No I/O; compiles for the server and for the browser. Depends on `violation`.

use super::{Code, Violation, Violations};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// Characters that show nothing or turn text around (zero-width spaces and joiners, direction
/// marks and overrides, the byte-order mark, the soft hyphen): in a tag they would make two
/// different tags look the same. The API's schema lists the same ranges.
pub const INVISIBLE: [char; 21] = [
    '\u{00AD}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}',
    '\u{202C}', '\u{202D}', '\u{202E}', '\u{2060}', '\u{2061}', '\u{2062}', '\u{2063}', '\u{2064}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{FEFF}',
];

/// One tag: 1–50 characters, none of them a control character, `;` or `,` (the separators a
/// CSV cell and the portal's field use), with no space at either end. Case counts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tag(String);

impl Tag {
    pub const MAX_CHARS: usize = 50;

    /// `raw`, if it obeys the rule (a door that reads tags out of a line trims them first).
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let tag = raw;
        if tag.trim() != tag {
            return Err(Violation::new(
                "",
                Code::InvalidValue,
                "a tag does not start or end with a space",
            ));
        }
        let chars = tag.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(Violation::new(
                "",
                Code::InvalidValue,
                format!(
                    "a tag has 1–{} characters; this one has {chars}",
                    Self::MAX_CHARS
                ),
            ));
        }
        if let Some(bad) = tag
            .chars()
            .find(|c| c.is_control() || INVISIBLE.contains(c) || matches!(c, ';' | ','))
        {
            return Err(Violation::new(
                "",
                Code::InvalidValue,
                format!(
                    "a tag may not contain {}: no control or invisible characters, `;` or `,`",
                    bad.escape_default()
                ),
            ));
        }
        Ok(Self(tag.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Tag {
    type Error = Violation;
    fn try_from(raw: String) -> Result<Self, Violation> {
        Self::parse(&raw)
    }
}

impl From<Tag> for String {
    fn from(tag: Tag) -> String {
        tag.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The tags of one number or account: at most 50, each once, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Tag>", into = "Vec<Tag>")]
pub struct Tags(BTreeSet<Tag>);

impl Tags {
    pub const MAX: usize = 50;

    /// Tags from a list (a JSON array's items, at most [`Tags::MAX`]), naming `field[i]` for
    /// each bad one; a tag given twice counts once.
    pub fn parse_list(field: &str, raw: &[String]) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        if raw.len() > Self::MAX {
            return Err(too_many(field, raw.len()).into());
        }
        let mut tags = BTreeSet::new();
        for (i, item) in raw.iter().enumerate() {
            if let Some(tag) = violations.parse(&format!("{field}[{i}]"), item, Tag::parse) {
                tags.insert(tag);
            }
        }
        if tags.len() > Self::MAX {
            violations.push(too_many(field, tags.len()));
        }
        if violations.is_empty() {
            Ok(Self(tags))
        } else {
            Err(violations)
        }
    }

    /// Tags from one line of text separated by `;` or `,` (a CSV cell, the portal's field);
    /// blank items are skipped.
    pub fn parse_text(field: &str, raw: &str) -> Result<Self, Violations> {
        let items: Vec<String> = raw
            .split([';', ','])
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect();
        Self::parse_list(field, &items)
    }

    /// The set after adding `add` and taking away `remove`, or a violation when it would hold
    /// more than [`Tags::MAX`].
    pub fn changed(&self, add: &Tags, remove: &Tags) -> Result<Self, Violation> {
        let tags: BTreeSet<Tag> = self
            .0
            .union(&add.0)
            .filter(|t| !remove.0.contains(*t))
            .cloned()
            .collect();
        if tags.len() > Self::MAX {
            return Err(too_many("tags", tags.len()));
        }
        Ok(Self(tags))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn contains(&self, tag: &Tag) -> bool {
        self.0.contains(tag)
    }

    /// The tags as one line, separated by `;` (a CSV cell).
    pub fn to_text(&self) -> String {
        self.0.iter().map(Tag::as_str).collect::<Vec<_>>().join(";")
    }
}

fn too_many(field: &str, count: usize) -> Violation {
    Violation::new(
        field,
        Code::TooManyTags,
        format!(
            "a number or an account has at most {} tags; this would give it {count}",
            Tags::MAX
        ),
    )
}

impl TryFrom<Vec<Tag>> for Tags {
    type Error = Violation;
    fn try_from(list: Vec<Tag>) -> Result<Self, Violation> {
        let tags: BTreeSet<Tag> = list.into_iter().collect();
        if tags.len() > Self::MAX {
            return Err(too_many("tags", tags.len()));
        }
        Ok(Self(tags))
    }
}

impl From<Tags> for Vec<Tag> {
    fn from(tags: Tags) -> Vec<Tag> {
        tags.0.into_iter().collect()
    }
}

/// A note: up to 1,000 characters of text, lines included (CR LF kept as LF), no other
/// control character but tab. Blank means no note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Note(String);

impl Note {
    pub const MAX_CHARS: usize = 1000;

    /// The note `raw` holds, `None` when it is blank.
    pub fn parse(raw: &str) -> Result<Option<Self>, Violation> {
        // Counted as given, so what a form or a client sends is what the limit measures.
        let chars = raw.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(Violation::new(
                "",
                Code::InvalidValue,
                format!(
                    "a note has at most {} characters; this one has {chars}",
                    Self::MAX_CHARS
                ),
            ));
        }
        let text = raw.replace("\r\n", "\n");
        // Checked before trimming, so a control character at either end is refused, not
        // trimmed away (what the API's schema says too).
        if let Some(bad) = text
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        {
            return Err(Violation::new(
                "",
                Code::InvalidValue,
                format!(
                    "a note may not contain {}: only text, tabs and line breaks",
                    bad.escape_default()
                ),
            ));
        }
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Note {
    type Error = Violation;
    fn try_from(raw: String) -> Result<Self, Violation> {
        Self::parse(&raw)?
            .ok_or_else(|| Violation::new("", Code::InvalidValue, "a note is not blank; send null"))
    }
}

impl From<Note> for String {
    fn from(note: Note) -> String {
        note.0
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A number's or an account's tags and note.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels {
    pub tags: Tags,
    pub note: Option<Note>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_trimmed_and_obeys_its_rule() {
        assert_eq!(Tag::parse("site: London").unwrap().as_str(), "site: London");
        assert!(Tag::parse(" vip").is_err());
        assert_eq!(
            Tag::parse("é".repeat(50).as_str())
                .unwrap()
                .as_str()
                .chars()
                .count(),
            50
        );
        for bad in [
            "",
            "   ",
            "a;b",
            "a,b",
            "line\nbreak",
            "nul\0",
            "vip\u{202E}",
            "\u{200B}vip",
            &"x".repeat(51),
        ] {
            let error = Tag::parse(bad).unwrap_err();
            assert_eq!(error.code, Code::InvalidValue, "{bad:?}");
        }
    }

    #[test]
    fn tags_from_text_skip_blanks_count_once_and_stop_at_fifty() {
        let tags = Tags::parse_text("tags", "vip; billing ;; vip,").unwrap();
        assert_eq!(tags.to_text(), "billing;vip");
        let fifty: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
        assert_eq!(Tags::parse_list("tags", &fifty).unwrap().len(), 50);
        let fifty_one: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        let error = Tags::parse_list("tags", &fifty_one).unwrap_err();
        assert_eq!(error.iter().next().unwrap().code, Code::TooManyTags);
        let bad = Tags::parse_list("tags", &["ok".into(), "no\r".into()]).unwrap_err();
        assert_eq!(bad.iter().next().unwrap().field, "tags[1]");
    }

    #[test]
    fn a_change_adds_then_removes_and_keeps_the_limit() {
        let have = Tags::parse_text("tags", "a;b").unwrap();
        let add = Tags::parse_text("tags", "c").unwrap();
        let remove = Tags::parse_text("tags", "a").unwrap();
        assert_eq!(have.changed(&add, &remove).unwrap().to_text(), "b;c");
        let many: Vec<String> = (0..49).map(|i| format!("n{i}")).collect();
        let many = Tags::parse_list("tags", &many).unwrap();
        let error = many.changed(&have, &Tags::default()).unwrap_err();
        assert_eq!(error.code, Code::TooManyTags);
    }

    #[test]
    fn a_note_keeps_its_lines_and_refuses_other_controls() {
        assert_eq!(Note::parse("  \r\n ").unwrap(), None);
        let note = Note::parse("Porting in\r\nfrom BT\tref 42")
            .unwrap()
            .unwrap();
        assert_eq!(note.as_str(), "Porting in\nfrom BT\tref 42");
        // A control character at an end is refused, not trimmed away; a lone CR too.
        for bad in ["\u{b}", "x\u{c}", "\u{85}", "a\rb"] {
            assert!(Note::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Note::parse(&"n".repeat(1000)).unwrap().is_some());
        assert!(Note::parse(&"n".repeat(1001)).is_err());
        assert!(Note::parse("bell\u{7}").is_err());
        assert!(Note::parse("escape\u{1b}[31m").is_err());
    }
}
