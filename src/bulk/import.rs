//! Reading an import file: ACG's columns (a heading row naming any of them) or the plain form
//! (one number per line, with or without a `Numbers` heading, for one account and service).
//!
//! The file is read on a blocking thread and handed to the core row by row through a short
//! queue, so a million-row file is never held in memory and parsing overlaps writing.

use super::columns::{Heading, RowDefaults, PLAIN_HEADING};
use crate::domain::number::{Capability, Usage};
use crate::domain::Code;
use crate::domain::{
    AccountName, Number, NumberService, NumberServices, Service, TeamsNumberConfig,
    TelephoneNumber, Violation, Violations,
};
use crate::provisioning::import::{Import, ImportMode, ImportRow, ImportStart};
use crate::provisioning::{Actor, Provisioning, ProvisioningError};
use crate::provisioning::{RowError, Tally};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::rc::Rc;

/// Rows read ahead of the core.
const QUEUE_ROWS: usize = 4096;

/// How to read the rows of one file.
#[derive(Clone, Debug, Default)]
pub struct FileSettings {
    /// Fills empty `accountName` cells; rows naming another account are refused.
    pub defaults: RowDefaults,
    /// What every number of a plain (one-number-per-line) file gets.
    pub plain: Option<PlainSettings>,
}

/// The service (and its Teams settings) a plain file's numbers are given.
#[derive(Clone, Debug)]
pub struct PlainSettings {
    pub service: Service,
    /// For Operator Connect and Teams Phone Mobile.
    pub teams: Option<TeamsNumberConfig>,
}

/// What an import did, or would do.
#[derive(Clone, Debug)]
pub struct ImportSummary {
    pub job_id: i64,
    pub tally: Tally,
}

/// Why an import stopped before the end of its file.
#[derive(Debug, thiserror::Error)]
pub enum ImportFailure {
    /// The file cannot be read on (its heading, its form, broken CSV at some line): the rows
    /// before were checked or applied in whole chunks, none after.
    #[error("{0}")]
    File(String),
    #[error(transparent)]
    Core(#[from] ProvisioningError),
}

/// A row, or why the file cannot go on being read.
type Item = Result<ImportRow, String>;

/// Imports `file` through the core: a dry run or an apply. `on_chunk` hears the running tally
/// and each chunk's invalid rows as they are found.
pub async fn import_file<R, F>(
    core: &Provisioning,
    actor: &Actor,
    source: &str,
    file: R,
    settings: FileSettings,
    mode: ImportMode,
    on_chunk: F,
) -> Result<ImportSummary, ImportFailure>
where
    R: Read + Send + 'static,
    F: FnMut(&Tally, &[RowError]),
{
    let start = ImportStart {
        source: source.to_owned(),
        mode,
        total_lines: None,
        upload: None,
        settings: None,
    };
    let import = core.start_import(actor.clone(), start).await?;
    run_import(import, file, settings, on_chunk).await
}

/// Feeds every row of `file` to a started run, then finishes it.
pub async fn run_import<R, F>(
    mut import: Import,
    file: R,
    settings: FileSettings,
    mut on_chunk: F,
) -> Result<ImportSummary, ImportFailure>
where
    R: Read + Send + 'static,
    F: FnMut(&Tally, &[RowError]),
{
    let (sender, mut receiver) = tokio::sync::mpsc::channel(QUEUE_ROWS);
    let reader = tokio::task::spawn_blocking(move || read_rows(file, &settings, &sender));
    while let Some(item) = receiver.recv().await {
        match item {
            Ok(row) => {
                let report = match import.push(row).await {
                    Ok(report) => report,
                    Err(error) => {
                        drop(receiver);
                        let _ = import.fail(&error.to_string()).await;
                        return Err(error.into());
                    }
                };
                if report.chunk_done {
                    on_chunk(&import.tally(), &report.errors);
                }
            }
            Err(reason) => {
                drop(receiver);
                import.fail(&reason).await?;
                return Err(ImportFailure::File(reason));
            }
        }
    }
    let _ = reader.await;
    let job_id = import.job_id();
    let (report, tally) = import.finish().await?;
    on_chunk(&tally, &report.errors);
    Ok(ImportSummary { job_id, tally })
}

/// Reads an upload kept in the database, a part at a time, as a file: for `run_import`, which
/// reads on a blocking thread (where waiting on the runtime is allowed).
pub struct UploadReader {
    core: Provisioning,
    actor: Actor,
    upload: String,
    next: i64,
    part: Vec<u8>,
    at: usize,
    runtime: tokio::runtime::Handle,
}

impl UploadReader {
    /// A reader of `upload`; must be made inside the runtime.
    pub fn new(core: Provisioning, actor: Actor, upload: &str) -> Self {
        UploadReader {
            core,
            actor,
            upload: upload.to_owned(),
            next: 0,
            part: Vec::new(),
            at: 0,
            runtime: tokio::runtime::Handle::current(),
        }
    }
}

impl Read for UploadReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.part.len() {
            let (core, actor, upload) = (&self.core, &self.actor, self.upload.as_str());
            let part = self
                .runtime
                .block_on(core.upload_part(actor, upload, self.next))
                .map_err(std::io::Error::other)?;
            match part {
                Some(part) => {
                    (self.part, self.at) = (part, 0);
                    self.next += 1;
                }
                // The end, unless the file stopped being kept while it was read.
                None => {
                    let kept = self
                        .runtime
                        .block_on(core.upload_kept(actor, upload))
                        .map_err(std::io::Error::other)?;
                    if !kept {
                        return Err(std::io::Error::other(
                            "the uploaded file is no longer kept on the server",
                        ));
                    }
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.part.len() - self.at);
        buf[..n].copy_from_slice(&self.part[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// How to read a file, as a person gives it (command-line flags, form fields): text to parse.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ImportOptions {
    pub account: Option<String>,
    pub service: Option<String>,
    pub usage: Option<String>,
    /// Comma- or `;`-separated.
    pub capabilities: Option<String>,
}

/// A setting that does not parse: which (`account`, `service`, `usage`, `capabilities`), and why.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", label(.setting), .message)]
pub struct SettingsProblem {
    pub setting: &'static str,
    pub message: String,
}

fn label(setting: &str) -> &'static str {
    match setting {
        "account" => "Account",
        "service" => "Service",
        "usage" => "Usage",
        _ => "Capabilities",
    }
}

impl ImportOptions {
    /// Sets a form field by name; unknown names are ignored.
    pub fn set(&mut self, name: &str, value: String) {
        let value = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        match name {
            "account" => self.account = value,
            "service" => self.service = value,
            "usage" => self.usage = value,
            "capabilities" => self.capabilities = value,
            _ => {}
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("options serialise")
    }

    /// Options stored with a job, if they read back.
    pub fn from_json(json: &str) -> Option<Self> {
        serde_json::from_str(json).ok()
    }

    /// The settings these options give, or the first that does not parse.
    pub fn file_settings(&self) -> Result<FileSettings, SettingsProblem> {
        let problem = |setting, message: String| SettingsProblem { setting, message };
        let account = self
            .account
            .as_deref()
            .map(|raw| AccountName::parse(raw).map_err(|v| problem("account", v.message)))
            .transpose()?;
        let capabilities: Vec<&str> = self
            .capabilities
            .as_deref()
            .unwrap_or_default()
            .split([',', ';'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let Some(service) = self.service.as_deref() else {
            if self.usage.is_some() || !capabilities.is_empty() {
                return Err(problem(
                    "service",
                    "usage and capabilities are for a file of one number per line: give its service too".into(),
                ));
            }
            return Ok(FileSettings {
                defaults: RowDefaults { account },
                plain: None,
            });
        };
        let service = Service::from_wire_name(service).ok_or_else(|| {
            let names: Vec<_> = Service::ALL.iter().map(|s| s.wire_name()).collect();
            problem("service", format!("must be one of {}", names.join(", ")))
        })?;
        let teams = match self.usage.as_deref() {
            None if capabilities.is_empty() => None,
            None => return Err(problem("usage", "is needed with capabilities".into())),
            Some(usage) => Some(TeamsNumberConfig {
                usage: Usage::parse(usage).map_err(|v| problem("usage", v.message))?,
                choosable_capabilities: capabilities
                    .iter()
                    .map(|c| {
                        Capability::parse(c)
                            .map_err(|v| problem("capabilities", format!("{c} {}", v.message)))
                    })
                    .collect::<Result<_, _>>()?,
                additional_usages: Vec::new(),
                civic_address_id: None,
                location_id: None,
                allow_tenant_address_update: false,
                displayed_country_code: None,
            }),
        };
        Ok(FileSettings {
            defaults: RowDefaults { account },
            plain: Some(PlainSettings { service, teams }),
        })
    }
}

/// Reads every row of `file` into `sender`; stops quietly when the receiver has gone.
fn read_rows<R: Read>(file: R, settings: &FileSettings, sender: &tokio::sync::mpsc::Sender<Item>) {
    let send = |item| sender.blocking_send(item).is_ok();
    let breaks = Rc::new(RefCell::new(LineBreaks::default()));
    let overlong = Rc::new(std::cell::Cell::new(None));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(CountingReader {
            inner: file,
            offset: 0,
            breaks: Rc::clone(&breaks),
            line_bytes: 0,
            lines: 0,
            overlong: Rc::clone(&overlong),
        });
    let mut form: Option<Form> = None;
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return,
            Ok(true) => {}
            Err(_) if overlong.get().is_some() => {
                let line = overlong.get().unwrap_or_default();
                send(Err(format!(
                    "line {line}: longer than {MAX_LINE_BYTES} bytes, the most a line may be"
                )));
                return;
            }
            Err(error) => {
                let at = error.position().map_or(0, |p| p.byte());
                let line = breaks.borrow_mut().line_at(at);
                send(Err(format!("line {line}: the file is not CSV: {error}")));
                return;
            }
        }
        let line = breaks
            .borrow_mut()
            .line_at(record.position().map_or(0, |p| p.byte()));
        let text = match csv::StringRecord::from_byte_record(record.clone()) {
            Ok(text) => text,
            Err(_) => {
                let error = Violation::new("", Code::NotUtf8, "the line is not UTF-8 text");
                if !send(Ok(ImportRow {
                    line,
                    number: Err(error.into()),
                    read_at_version: None,
                    tags: None,
                })) {
                    return;
                }
                continue;
            }
        };
        // A cell an export neutralised (`'=…`) reads back as it was.
        let text = super::cells::read_back_record(text);
        if text.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        let form = match &form {
            Some(form) => form,
            None => match Form::of_first_row(&text, settings) {
                Ok((found, heading_row)) => {
                    let found = form.insert(found);
                    if heading_row {
                        continue;
                    }
                    found
                }
                Err(reason) => {
                    send(Err(format!("line {line}: {reason}")));
                    return;
                }
            },
        };
        let (number, tags) = match (form.number(&text, &settings.defaults), form.tags(&text)) {
            (Ok(number), Ok(tags)) => (Ok(number), tags),
            (Err(mut broken), Err(more)) => {
                broken.extend(more);
                (Err(broken), None)
            }
            (Err(broken), Ok(_)) | (Ok(_), Err(broken)) => (Err(broken), None),
        };
        let row = ImportRow {
            line,
            number,
            read_at_version: None,
            tags,
        };
        if !send(Ok(row)) {
            return;
        }
    }
}

/// The line breaks read but not yet passed by the records, to number lines as an editor
/// does: the CSV reader skips blank lines without counting them, and a record's position is
/// where the blank lines before it began.
#[derive(Default)]
struct LineBreaks {
    /// Offsets of `\r` and `\n` bytes not yet passed, and whether each is a `\n`.
    ahead: VecDeque<(u64, bool)>,
    passed: i64,
}

impl LineBreaks {
    /// The line (from 1) of the first byte at or after `offset` that is not a line break;
    /// offsets must come in increasing order.
    fn line_at(&mut self, offset: u64) -> i64 {
        let mut cursor = offset;
        while let Some(&(at, newline)) = self.ahead.front() {
            if at > cursor {
                break;
            }
            if at == cursor {
                cursor += 1;
            }
            self.ahead.pop_front();
            self.passed += i64::from(newline);
        }
        self.passed + 1
    }
}

/// Passes bytes through, noting where each line break is; the queue holds only what the CSV
/// reader has read ahead.
/// The longest line a file may have, in bytes: a row of ACG's columns is well under 2 KiB, so
/// a longer line is refused before the CSV reader holds it in memory.
pub const MAX_LINE_BYTES: u64 = 64 * 1024;

struct CountingReader<R> {
    inner: R,
    offset: u64,
    breaks: Rc<RefCell<LineBreaks>>,
    /// Bytes since the last line break, and line breaks seen.
    line_bytes: u64,
    lines: u64,
    /// The line that went past `MAX_LINE_BYTES`, once one has.
    overlong: Rc<std::cell::Cell<Option<u64>>>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        let mut breaks = self.breaks.borrow_mut();
        for (i, &byte) in buf[..read].iter().enumerate() {
            if byte == b'\n' || byte == b'\r' {
                breaks
                    .ahead
                    .push_back((self.offset + i as u64, byte == b'\n'));
                self.line_bytes = 0;
                self.lines += u64::from(byte == b'\n');
            } else {
                self.line_bytes += 1;
                if self.line_bytes > MAX_LINE_BYTES {
                    self.overlong.set(Some(self.lines + 1));
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "line too long",
                    ));
                }
            }
        }
        self.offset += read as u64;
        Ok(read)
    }
}

/// Which of the two forms a file is in.
enum Form {
    Columns(Heading),
    Plain {
        account: AccountName,
        plain: PlainSettings,
    },
}

impl Form {
    /// The form the first non-blank row shows, and whether that row is a heading.
    fn of_first_row(
        first: &csv::StringRecord,
        settings: &FileSettings,
    ) -> Result<(Form, bool), String> {
        let first_cell = first
            .get(0)
            .unwrap_or_default()
            .trim()
            .trim_start_matches('\u{feff}');
        let plain_heading = first.len() == 1 && first_cell.eq_ignore_ascii_case(PLAIN_HEADING);
        let bare_number = first_cell.starts_with('+') && first.len() == 1;
        if plain_heading || bare_number {
            let Some(plain) = settings.plain.clone() else {
                return Err("a file with one number per line needs the service to give them (and the account)".into());
            };
            let Some(account) = settings.defaults.account.clone() else {
                return Err(
                    "a file with one number per line needs the account to put them in".into(),
                );
            };
            return Ok((Form::Plain { account, plain }, plain_heading));
        }
        let heading = Heading::parse(first.iter())?;
        Ok((Form::Columns(heading), true))
    }

    /// The tags a row gives its number (a file of plain numbers gives none).
    fn tags(&self, record: &csv::StringRecord) -> Result<Option<crate::domain::Tags>, Violations> {
        match self {
            Form::Columns(heading) => heading.tags(record),
            Form::Plain { .. } => Ok(None),
        }
    }

    fn number(
        &self,
        record: &csv::StringRecord,
        defaults: &RowDefaults,
    ) -> Result<Number, Violations> {
        match self {
            Form::Columns(heading) => heading.number(record, defaults),
            Form::Plain { account, plain } => {
                let mut v = Violations::new();
                if record.len() > 1 {
                    v.push(Violation::new(
                        "",
                        Code::TooManyCells,
                        "a file with one number per line has one cell per line",
                    ));
                }
                let raw = record.get(0).unwrap_or_default().trim();
                let telephone_number = v.parse("telephoneNumber", raw, TelephoneNumber::parse);
                let teams = plain.teams.clone().map(|configuration| NumberService {
                    enabled: true,
                    assignment_status: None,
                    configuration: Some(configuration),
                });
                let number = telephone_number.map(|telephone_number| Number {
                    telephone_number,
                    account_name: account.clone(),
                    services: NumberServices::only(
                        plain.service,
                        teams.or(Some(NumberService {
                            enabled: true,
                            assignment_status: None,
                            configuration: None,
                        })),
                    ),
                    custom_sip_header: None,
                });
                match number {
                    Some(number) if v.is_empty() => Ok(number),
                    _ => Err(v),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_numbered_as_an_editor_shows_them() {
        let text = "Numbers\r\n+441632960001\r\n\r\n\n\"+44\n1632\"\n+441632960003\n";
        let breaks = Rc::new(RefCell::new(LineBreaks::default()));
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(CountingReader {
                inner: text.as_bytes(),
                offset: 0,
                breaks: Rc::clone(&breaks),
                line_bytes: 0,
                lines: 0,
                overlong: Rc::default(),
            });
        let mut lines = Vec::new();
        let mut record = csv::ByteRecord::new();
        while reader.read_byte_record(&mut record).unwrap() {
            let at = record.position().unwrap().byte();
            lines.push(breaks.borrow_mut().line_at(at));
        }
        assert_eq!(lines, [1, 2, 5, 7]);
    }

    #[test]
    fn a_line_past_the_limit_stops_the_file_with_its_line_number() {
        let long_cell = "x".repeat(MAX_LINE_BYTES as usize + 1);
        let file =
            format!("telephoneNumber,accountName\n+441632960001,a\n+441632960002,{long_cell}\n");
        let (sender, mut receiver) = tokio::sync::mpsc::channel(16);
        read_rows(file.as_bytes(), &FileSettings::default(), &sender);
        drop(sender);
        let mut last = None;
        while let Ok(item) = receiver.try_recv() {
            last = Some(item);
        }
        match last {
            Some(Err(reason)) => assert_eq!(
                reason,
                format!("line 3: longer than {MAX_LINE_BYTES} bytes, the most a line may be")
            ),
            _ => panic!("the file must stop at the long line"),
        }
        // A line just under the limit is read.
        let fits = format!(
            "+441632960002,{}\n",
            "x".repeat(MAX_LINE_BYTES as usize - 20)
        );
        let (sender, mut receiver) = tokio::sync::mpsc::channel(16);
        read_rows(fits.as_bytes(), &FileSettings::default(), &sender);
        drop(sender);
        while let Ok(item) = receiver.try_recv() {
            if let Err(reason) = item {
                assert!(!reason.contains("longer than"), "{reason}");
            }
        }
    }
}
