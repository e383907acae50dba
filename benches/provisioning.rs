//! Loads numbers through the provisioning core and prints how fast, then times a filtered,
//! paged list and single-number lookups at that size. SQLite always; PostgreSQL when
//! `NUMBAT_BENCH_POSTGRES_URL` (default the local server) answers.
//!
//! `cargo bench --bench provisioning` loads 1,000,000 numbers over 1,000 accounts in batches of
//! 1,000; `-- --accounts N --per-account M` changes the size. Prints figures; asserts nothing.

use numbat::domain::{
    Account, AccountName, AccountServices, CustomSipHeader, Number, NumberServices,
    ProvisioningStatus, Service, TelephoneNumber,
};
use numbat::provisioning::{
    Actor, Door, NumberFilter, NumberOrder, Precondition, Provisioning, Role,
};
use numbat::store::Database;
use std::time::Instant;
use support::summary;

mod support;

struct Size {
    accounts: usize,
    per_account: usize,
}

fn size_from_args() -> Size {
    Size {
        accounts: support::arg("--accounts", 1000),
        per_account: support::arg("--per-account", 1000),
    }
}

fn account_name(i: usize) -> AccountName {
    AccountName::parse(&format!("customer-{i:04}")).unwrap()
}

/// London numbers, +44 20 then eight digits, consecutive within an account.
fn number(account: usize, j: usize, per_account: usize) -> Number {
    let serial = account * per_account + j;
    Number {
        telephone_number: TelephoneNumber::parse(&format!("+4420{serial:08}")).unwrap(),
        account_name: account_name(account),
        services: NumberServices::only(Service::TeamsDirectRouting, None),
        custom_sip_header: j
            .is_multiple_of(3)
            .then(|| CustomSipHeader::parse(&format!("cost-centre-{}", j % 50)).unwrap()),
    }
}

async fn run(label: &str, db: Database, size: &Size) {
    let core = Provisioning::new(db);
    let actor = Actor::new("bench", &[Role::Admin], Door::Cli);
    let services = AccountServices::default().with(Service::TeamsDirectRouting, true, false);
    for i in 0..size.accounts {
        let account = Account {
            services: services.clone(),
            ..Account::named(account_name(i))
        };
        core.put_account(&actor, account, Precondition::NONE)
            .await
            .unwrap();
    }

    let total = size.accounts * size.per_account;
    let mut batch_times = Vec::with_capacity(size.accounts);
    let started = Instant::now();
    for i in 0..size.accounts {
        let batch: Vec<Number> = (0..size.per_account)
            .map(|j| number(i, j, size.per_account))
            .collect();
        let t = Instant::now();
        core.upsert_numbers(&actor, &account_name(i), batch)
            .await
            .unwrap();
        batch_times.push(t.elapsed());
        if (i + 1).is_multiple_of(100) {
            eprintln!("{label}: {} numbers loaded", (i + 1) * size.per_account);
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{label}: loaded {total} numbers over {} accounts in batches of {} in {:.1} s: {:.0} numbers/s",
        size.accounts,
        size.per_account,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
    println!(
        "{label}: batch of {}: {}",
        size.per_account,
        summary(batch_times)
    );

    // A filtered, paged list: one account's numbers that carry a header, 100 a page, walked to the end.
    let mut page_times = Vec::new();
    for round in 0..20 {
        let filter = NumberFilter {
            account: Some(account_name((round * 37) % size.accounts)),
            has_custom_header: Some(true),
            ..Default::default()
        };
        let mut after: Option<TelephoneNumber> = None;
        loop {
            let t = Instant::now();
            let page = core
                .list_numbers(&actor, &filter, NumberOrder::Ascending, after.as_ref(), 100)
                .await
                .unwrap();
            page_times.push(t.elapsed());
            match page.last() {
                Some(last) if page.len() == 100 => {
                    after = Some(last.number.telephone_number.clone())
                }
                _ => break,
            }
        }
    }
    println!(
        "{label}: list page (account + has header, 100 rows): {}",
        summary(page_times)
    );

    // Across all accounts: a number prefix with a service filter, pages deep into the range.
    let mut prefix_times = Vec::new();
    let filter = NumberFilter {
        prefix: Some("+44200".into()),
        service: Some(Service::TeamsDirectRouting),
        ..Default::default()
    };
    let mut after: Option<TelephoneNumber> = None;
    for _ in 0..200 {
        let t = Instant::now();
        let page = core
            .list_numbers(&actor, &filter, NumberOrder::Ascending, after.as_ref(), 100)
            .await
            .unwrap();
        prefix_times.push(t.elapsed());
        after = page.last().map(|r| r.number.telephone_number.clone());
    }
    println!(
        "{label}: list page (prefix + service, 100 rows, 200 pages deep): {}",
        summary(prefix_times)
    );

    // A rare status across all accounts: the kind of filter that would scan every row unindexed.
    let mut status_times = Vec::new();
    let failed = NumberFilter {
        status: Some(ProvisioningStatus::Failed),
        ..Default::default()
    };
    for _ in 0..50 {
        let t = Instant::now();
        core.list_numbers(&actor, &failed, NumberOrder::Ascending, None, 100)
            .await
            .unwrap();
        status_times.push(t.elapsed());
    }
    println!(
        "{label}: list page (status failed, none match): {}",
        summary(status_times)
    );

    let mut lookup_times = Vec::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..5000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let serial = (seed % total as u64) as usize;
        let wanted = TelephoneNumber::parse(&format!("+4420{serial:08}")).unwrap();
        let t = Instant::now();
        core.get_number(&actor, None, &wanted).await.unwrap();
        lookup_times.push(t.elapsed());
    }
    println!("{label}: single-number lookup: {}", summary(lookup_times));
}

#[tokio::main]
async fn main() {
    let size = size_from_args();
    support::on_each_database(|label, db| {
        let size = &size;
        async move { run(label, db, size).await }
    })
    .await;
}
