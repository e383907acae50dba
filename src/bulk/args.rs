//! The flags of `numbat import` and `numbat export`. Depends on `process` (the database flag)
//! and clap.

use crate::process::DatabaseArgs;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The CSV file: ACG's columns under a heading row (telephoneNumber, accountName,
    /// serviceDetails_<service>_enabled, …), or one number per line. With --resume, the same
    /// file the interrupted import read (not needed for one uploaded to the portal).
    #[arg(required_unless_present = "resume")]
    pub file: Option<PathBuf>,
    /// Resume interrupted job ID (an import, or a portal bulk action) after what its committed
    /// chunks did; its own settings apply, so the other flags are not needed.
    #[arg(long, value_name = "ID")]
    pub resume: Option<i64>,
    /// Write the valid rows, a chunk of 1,000 per transaction; invalid rows are skipped.
    #[arg(long)]
    pub apply: bool,
    /// The account of rows that leave accountName empty, and of a one-number-per-line file;
    /// rows naming another account are refused.
    #[arg(long)]
    pub account: Option<String>,
    /// For a one-number-per-line file: the service its numbers get (teamsOperatorConnect,
    /// teamsDirectRouting, teamsPhoneMobile, zoomPhoneCloudPeering, azureOperatorCallProtection).
    #[arg(long)]
    pub service: Option<String>,
    /// For a one-number-per-line file of Operator Connect or Teams Phone Mobile numbers: their
    /// usage (CallingUserAssignment, FirstPartyAppAssignment, ConferenceAssignment).
    #[arg(long)]
    pub usage: Option<String>,
    /// … and their capabilities, comma-separated (e.g. InboundCalling,OutboundCalling).
    #[arg(long, value_delimiter = ',')]
    pub capabilities: Vec<String>,
    /// Write every invalid row (line, column, code, reason) to this CSV file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Export accounts (their settings and number counts) instead of numbers.
    #[arg(long)]
    pub accounts: bool,
    /// Only this account's numbers.
    #[arg(long)]
    pub account: Option<String>,
    /// Only numbers with this service enabled (its API name, e.g. teamsDirectRouting).
    #[arg(long)]
    pub service: Option<String>,
    /// Only numbers in this sync state: pending, synced or failed.
    #[arg(long)]
    pub status: Option<String>,
    /// Only numbers starting with this, e.g. +4420.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}
