//! Bulk work in CSV: reading an import file into rows for the core's import, and writing
//! numbers out in the same columns. A door: it translates files, the core holds the rules.
//! Depends on the core, `wire` (the columns are ACG's fields) and `process`; never on another
//! door.

pub mod accounts;
mod args;
pub mod cells;
pub mod columns;
pub mod commands;
pub mod export;
pub mod import;

pub use args::{ExportArgs, ImportArgs};
pub use columns::{column_of, number_columns, RowDefaults};
pub use import::{
    import_file, run_import, FileSettings, ImportFailure, ImportOptions, ImportSummary,
    PlainSettings,
};
