//! Times the inventory's range actions at their largest (10,000 numbers, one job each):
//! add, reserve, assign (each number under every rule ACG's PUT obeys), release into quarantine
//! and end the quarantine, on SQLite and on PostgreSQL (when it answers). Each round uses a
//! fresh range; prints the median and spread of the rounds. Asserts nothing.
//!
//! `cargo bench --bench inventory` (`-- --rounds N` for more rounds; default 3).

use numbat::domain::{
    Account, AccountName, AccountServices, CustomSipHeader, NumberRange, NumberServices, Service,
    TelephoneNumber,
};
use numbat::provisioning::inventory::InventoryAction;
use numbat::provisioning::{Actor, Door, Precondition, Provisioning, Role};
use numbat::store::Database;
use std::time::{Duration, Instant};

mod support;

const STEPS: [&str; 5] = ["add", "reserve", "assign", "release", "endQuarantine"];

async fn run(label: &'static str, db: Database, rounds: usize) {
    let core = Provisioning::new(db);
    let actor = Actor::new("bench", &[Role::Admin], Door::Cli);
    let account = AccountName::parse("range-customer").unwrap();
    core.put_account(
        &actor,
        Account {
            services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
            ..Account::named(account.clone())
        },
        Precondition::NONE,
    )
    .await
    .unwrap();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); STEPS.len()];
    for round in 0..rounds {
        let first = 2_071_110_000 + round as u64 * 10_000;
        let range =
            NumberRange::parse(&format!("+44{first}"), &format!("+44{}", first + 9_999)).unwrap();
        let numbers: Vec<TelephoneNumber> = range.numbers().collect();
        let actions = [
            InventoryAction::Add,
            InventoryAction::Reserve {
                account: account.clone(),
                until: None,
            },
            InventoryAction::Assign {
                account: account.clone(),
                services: Box::new(NumberServices::only(Service::TeamsDirectRouting, None)),
                custom_sip_header: Some(CustomSipHeader::parse("range-gold").unwrap()),
            },
            InventoryAction::Release {
                account: account.clone(),
            },
            InventoryAction::EndQuarantine,
        ];
        for (step, action) in actions.iter().enumerate() {
            let started = Instant::now();
            let report = core
                .inventory_action(&actor, action, &numbers)
                .await
                .unwrap();
            times[step].push(started.elapsed());
            assert_eq!(report.done, numbers.len(), "{}: {report:?}", STEPS[step]);
        }
    }
    for (step, samples) in STEPS.iter().zip(times) {
        let mut sorted = samples.clone();
        sorted.sort();
        let median = sorted[sorted.len() / 2].as_secs_f64();
        println!(
            "{label:<8} {step:<14} 10,000 numbers: {:>7.0} numbers/s at the median; {}",
            10_000.0 / median,
            support::summary(samples)
        );
    }
}

#[tokio::main]
async fn main() {
    let rounds = support::arg("--rounds", 3).max(1);
    support::on_each_database(|label, db| run(label, db, rounds)).await;
}
