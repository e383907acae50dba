//! The `numbat` binary: parses the command line and hands over to the library.

use clap::Parser;
use numbat::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    numbat::telemetry::init(cli.log_format);
    match cli.command {
        Command::Serve(args) => numbat::server::serve(args).await,
        Command::Migrate(args) => {
            let db = numbat::store::Database::connect(&args.database_url).await?;
            let applied = db.migrate().await?;
            tracing::info!(database = db.kind(), applied, "migrations up to date");
            db.close().await;
            Ok(())
        }
    }
}
