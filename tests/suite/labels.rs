//! Tags and notes in the core, on SQLite and PostgreSQL alike: on numbers in every state and on
//! accounts, with their own version beside ACG's, filtered lists, bulk changes with a result per
//! number, the CSV column both ways, a bulk job, and two writers at once.

use crate::common::TestDb;
use numbat::bulk::{import_file, FileSettings};
use numbat::domain::{
    Account, AccountName, AccountServices, Labels, Note, Number, NumberServices, Service, Tag,
    Tags, TelephoneNumber,
};
use numbat::provisioning::bulk::{BulkAction, Selection};
use numbat::provisioning::import::ImportMode;
use numbat::provisioning::inventory::{ActionOutcome, InventoryAction};
use numbat::provisioning::labels::{Labelled, LabelledKind, TagChange};
use numbat::provisioning::{
    AccountFilter, Actor, AuditFilter, Door, InventoryFilter, NumberFilter, NumberOrder,
    Precondition, Provisioning, ProvisioningError, Role,
};

fn admin() -> Actor {
    Actor::new("admin@example.net", &[Role::Admin], Door::Api)
}

fn tn(raw: &str) -> TelephoneNumber {
    TelephoneNumber::parse(raw).unwrap()
}

fn tags(text: &str) -> Tags {
    Tags::parse_text("tags", text).unwrap()
}

fn labels(text: &str, note: Option<&str>) -> Labels {
    Labels {
        tags: tags(text),
        note: note.and_then(|n| Note::parse(n).unwrap()),
    }
}

fn number(raw: &str) -> Labelled {
    Labelled::Number(tn(raw))
}

async fn account(core: &Provisioning, raw: &str) {
    let account = Account {
        services: AccountServices::default().with(Service::TeamsDirectRouting, true, false),
        ..Account::named(AccountName::parse(raw).unwrap())
    };
    core.put_account(&admin(), account, Precondition::NONE)
        .await
        .unwrap();
}

async fn put(core: &Provisioning, raw: &str, account: &str) {
    let number = Number {
        telephone_number: tn(raw),
        account_name: AccountName::parse(account).unwrap(),
        services: NumberServices::only(Service::TeamsDirectRouting, None),
        custom_sip_header: None,
    };
    core.put_number(&admin(), number, Precondition::NONE)
        .await
        .unwrap();
}

async fn tags_of(core: &Provisioning, raw: &str) -> String {
    core.labels(&admin(), &number(raw))
        .await
        .unwrap()
        .labels
        .tags
        .to_text()
}

async fn on_every_backend<F, Fut>(check: F)
where
    F: Fn(Provisioning) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for test in TestDb::every_backend().await {
        let test = test.migrated().await;
        check(Provisioning::new(test.db.clone())).await;
        test.remove().await;
    }
}

const N1: &str = "+442071110001";
const N2: &str = "+442071110002";
const N3: &str = "+442071110003";

#[tokio::test]
async fn numbers_in_every_state_and_accounts_carry_labels_with_their_own_version() {
    on_every_backend(|core| async move {
        account(&core, "alpha").await;
        put(&core, N1, "alpha").await;
        let add = InventoryAction::Add;
        core.inventory_action(&admin(), &add, &[tn(N2)])
            .await
            .unwrap();
        let acg_version = core
            .get_number(&admin(), None, &tn(N1))
            .await
            .unwrap()
            .version;

        // An assigned number: labelled, its ACG version untouched, the change in its history.
        let written = core
            .set_labels(
                &admin(),
                &number(N1),
                labels("vip; site: Leeds", Some("ref 42")),
                Precondition::if_match(0),
            )
            .await
            .unwrap();
        assert_eq!(
            (written.version, written.labels.tags.to_text().as_str()),
            (1, "site: Leeds;vip")
        );
        let acg = core.get_number(&admin(), None, &tn(N1)).await.unwrap();
        assert_eq!(acg.version, acg_version, "labels leave ACG's ETag alone");
        let history = |key: &'static str| {
            let core = core.clone();
            async move {
                let filter = AuditFilter {
                    resource_type: Some("number".into()),
                    key: Some(key.into()),
                    ..AuditFilter::default()
                };
                core.recent_audit_events(&admin(), &filter, None, 50)
                    .await
                    .unwrap()
            }
        };
        let events = history(N1).await;
        assert_eq!(events.iter().filter(|e| e.action == "label").count(), 1);
        let label_event = events.iter().find(|e| e.action == "label").unwrap();
        assert_eq!(label_event.account.as_deref(), Some("alpha"));
        assert!(label_event.after.as_deref().unwrap().contains("ref 42"));

        // The same save is no change; a stale version is refused and changes nothing.
        let same = core
            .set_labels(
                &admin(),
                &number(N1),
                labels("vip;site: Leeds", Some("ref 42")),
                Precondition::NONE,
            )
            .await
            .unwrap();
        assert_eq!(same.version, 1);
        assert_eq!(
            history(N1)
                .await
                .iter()
                .filter(|e| e.action == "label")
                .count(),
            1
        );
        let stale = core
            .set_labels(
                &admin(),
                &number(N1),
                labels("", None),
                Precondition::if_match(0),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                stale,
                ProvisioningError::PreconditionFailed {
                    current: Some(1),
                    ..
                }
            ),
            "{stale:?}"
        );

        // An inventory number is labelled too; one that exists nowhere is not.
        core.set_labels(
            &admin(),
            &number(N2),
            labels("vip", None),
            Precondition::NONE,
        )
        .await
        .unwrap();
        let unknown = core
            .set_labels(
                &admin(),
                &number(N3),
                labels("vip", None),
                Precondition::NONE,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(unknown, ProvisioningError::NotFound { .. }),
            "{unknown:?}"
        );

        // Every list of numbers filters by tag.
        let vip = Tag::parse("vip").unwrap();
        let filter = NumberFilter {
            tag: Some(vip.clone()),
            ..NumberFilter::default()
        };
        let listed = core
            .list_numbers(&admin(), &filter, NumberOrder::Ascending, None, 10)
            .await
            .unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|r| r.number.telephone_number.as_str())
                .collect::<Vec<_>>(),
            [N1]
        );
        assert_eq!(core.count_numbers(&admin(), &filter).await.unwrap(), 1);
        // With an account or a prefix as well (each read by its own index).
        let alpha = AccountName::parse("alpha").unwrap();
        for (account, prefix, expected) in [
            (Some(alpha.clone()), None, 1),
            (None, Some("+4420711100".to_owned()), 1),
            (None, Some("+4420799".to_owned()), 0),
            (Some(alpha), Some("+4420711100".to_owned()), 1),
        ] {
            let narrower = NumberFilter {
                account,
                prefix,
                ..filter.clone()
            };
            let listed = core
                .list_numbers(&admin(), &narrower, NumberOrder::Descending, None, 10)
                .await
                .unwrap();
            assert_eq!(listed.len(), expected, "{narrower:?}");
            assert_eq!(
                core.count_numbers(&admin(), &narrower).await.unwrap(),
                expected as i64
            );
            assert_eq!(
                core.count_numbers_capped(&admin(), &narrower, 1000)
                    .await
                    .unwrap(),
                expected as i64,
                "the page's capped count: {narrower:?}"
            );
            // A page after the last number lists nothing more.
            let after = listed.last().map(|r| r.number.telephone_number.clone());
            if let Some(after) = after {
                let rest = core
                    .list_numbers(
                        &admin(),
                        &narrower,
                        NumberOrder::Descending,
                        Some(&after),
                        10,
                    )
                    .await
                    .unwrap();
                assert!(rest.is_empty(), "{narrower:?}: {rest:?}");
            }
        }
        let inventory = InventoryFilter {
            tag: Some(vip.clone()),
            ..InventoryFilter::default()
        };
        let held = core
            .list_inventory(&admin(), &inventory, None, 10)
            .await
            .unwrap();
        assert_eq!(
            held.iter()
                .map(|r| r.telephone_number.as_str())
                .collect::<Vec<_>>(),
            [N2]
        );
        let tagged = core
            .tagged(&admin(), LabelledKind::Number, &vip, None, 10)
            .await
            .unwrap();
        assert_eq!(
            tagged.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            [N1, N2]
        );
        let after_first = core
            .tagged(&admin(), LabelledKind::Number, &vip, Some(N1), 10)
            .await
            .unwrap();
        assert_eq!(after_first.len(), 1);

        // Cleared, the labels go on counting: an ETag given out before never matches again.
        let cleared = core
            .set_labels(
                &admin(),
                &number(N2),
                labels("", None),
                Precondition::if_match(1),
            )
            .await
            .unwrap();
        assert_eq!(cleared.version, 2);
        assert_eq!(core.labels(&admin(), &number(N2)).await.unwrap().version, 2);
        let old_etag = core
            .set_labels(
                &admin(),
                &number(N2),
                labels("vip", None),
                Precondition::if_match(1),
            )
            .await;
        assert!(
            matches!(old_etag, Err(ProvisioningError::PreconditionFailed { .. })),
            "{old_etag:?}"
        );
        let again = core
            .set_labels(
                &admin(),
                &number(N2),
                labels("vip", None),
                Precondition::if_match(2),
            )
            .await
            .unwrap();
        assert_eq!(again.version, 3);

        // Released into quarantine, a number keeps its labels; out of the inventory, it loses them.
        core.delete_number(
            &admin(),
            &AccountName::parse("alpha").unwrap(),
            &tn(N1),
            Precondition::NONE,
        )
        .await
        .unwrap();
        assert_eq!(tags_of(&core, N1).await, "site: Leeds;vip");
        core.inventory_action(&admin(), &InventoryAction::Remove, &[tn(N2)])
            .await
            .unwrap();
        assert!(core.labels(&admin(), &number(N2)).await.is_err());
        let removal = history(N2).await;
        let forgotten = removal
            .iter()
            .find(|e| e.action == "label" && e.after.is_none());
        assert!(
            forgotten.is_some_and(|e| e.before.as_deref().unwrap().contains("vip")),
            "the removed labels are in the number's history: {removal:?}"
        );
        let tagged = core
            .tagged(&admin(), LabelledKind::Number, &vip, None, 10)
            .await
            .unwrap();
        assert_eq!(tagged.len(), 1, "{tagged:?}");

        // An account's labels filter the account list and go with the account.
        let alpha = Labelled::Account(AccountName::parse("alpha").unwrap());
        core.set_labels(
            &admin(),
            &alpha,
            labels("wholesale", Some("Signed 2026")),
            Precondition::NONE,
        )
        .await
        .unwrap();
        let wholesale = AccountFilter {
            tag: Some(Tag::parse("wholesale").unwrap()),
            ..AccountFilter::default()
        };
        let accounts = core
            .list_accounts(&admin(), &wholesale, None, 10)
            .await
            .unwrap();
        assert_eq!(accounts.len(), 1);
        core.delete_account(
            &admin(),
            &AccountName::parse("alpha").unwrap(),
            false,
            Precondition::NONE,
        )
        .await
        .unwrap();
        let tag = Tag::parse("wholesale").unwrap();
        assert!(core
            .tagged(&admin(), LabelledKind::Account, &tag, None, 10)
            .await
            .unwrap()
            .is_empty());
        // A reader cannot label.
        let reader = Actor::new("reader", &[Role::Read], Door::Api);
        let refused = core
            .set_labels(&reader, &number(N1), labels("x", None), Precondition::NONE)
            .await;
        assert!(
            matches!(refused, Err(ProvisioningError::Forbidden { .. })),
            "{refused:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_bulk_tag_change_answers_for_each_number_by_rule() {
    on_every_backend(|core| async move {
        account(&core, "alpha").await;
        put(&core, N1, "alpha").await;
        put(&core, N2, "alpha").await;
        let fifty: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
        let full = Labels {
            tags: Tags::parse_list("tags", &fifty).unwrap(),
            note: None,
        };
        core.set_labels(&admin(), &number(N2), full, Precondition::NONE)
            .await
            .unwrap();
        core.set_labels(
            &admin(),
            &number(N1),
            labels("old;keep", None),
            Precondition::NONE,
        )
        .await
        .unwrap();
        let change = TagChange {
            add: tags("new"),
            remove: tags("old"),
        };
        let report = core
            .change_tags(&admin(), &change, &[tn(N1), tn(N2), tn(N3), tn(N1)])
            .await
            .unwrap();
        let seen: Vec<(ActionOutcome, Option<&str>)> = report
            .results
            .iter()
            .map(|r| (r.outcome, r.violation.as_ref().map(|v| v.code.as_str())))
            .collect();
        assert_eq!(
            seen,
            [
                (ActionOutcome::Done, None),
                (ActionOutcome::Refused, Some("TooManyTags")),
                (ActionOutcome::Refused, Some("NotInInventory")),
                (ActionOutcome::Refused, Some("Duplicate")),
            ]
        );
        assert_eq!(tags_of(&core, N1).await, "keep;new");
        assert_eq!(
            Tags::parse_text("t", &tags_of(&core, N2).await)
                .unwrap()
                .len(),
            50
        );
        let again = core
            .change_tags(&admin(), &change, &[tn(N1)])
            .await
            .unwrap();
        assert_eq!((again.done, again.unchanged), (0, 1));
        let nothing = TagChange::default();
        assert!(core
            .change_tags(&admin(), &nothing, &[tn(N1)])
            .await
            .is_err());
    })
    .await;
}

#[tokio::test]
async fn the_tags_column_imports_exports_and_round_trips_unchanged() {
    on_every_backend(|core| async move {
        account(&core, "alpha").await;
        let cli = Actor::new("cli", &[Role::Admin], Door::Cli);
        let import = |text: String| {
            let (core, cli) = (core.clone(), cli.clone());
            async move {
                let mut errors = Vec::new();
                let summary = import_file(
                    &core,
                    &cli,
                    "tags.csv",
                    std::io::Cursor::new(text.into_bytes()),
                    FileSettings::default(),
                    ImportMode::Apply,
                    |_, found| errors.extend(found.iter().map(|e| (e.line, e.field.clone(), e.code.clone()))),
                )
                .await
                .unwrap();
                (summary.tally, errors)
            }
        };
        let file = format!(
            "telephoneNumber,accountName,serviceDetails_teamsDirectRouting_enabled,tags\n\
             {N1},alpha,true,vip; site: Leeds\n{N2},alpha,true,\n{N3},alpha,true,a;b\n"
        );
        let (tally, errors) = import(file).await;
        assert_eq!((tally.created, tally.invalid), (3, 0), "{errors:?}");
        assert_eq!(tags_of(&core, N1).await, "site: Leeds;vip");
        assert_eq!(tags_of(&core, N2).await, "");

        // Export, then import the export: nothing changes.
        let mut export = numbat::bulk::export::NumberExport::new(core.clone(), admin(), NumberFilter::default());
        let mut text = String::new();
        while let Some(chunk) = export.next_chunk().await.unwrap() {
            text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        assert!(text.lines().next().unwrap().ends_with(",tags"), "{text}");
        assert!(text.contains(",site: Leeds;vip"), "{text}");
        let (tally, errors) = import(text).await;
        assert_eq!((tally.unchanged, tally.changed, tally.invalid), (3, 0, 0), "{errors:?}");

        // Only the tags change: the row counts as changed. A blank cell clears; a bad one is
        // refused by line, field and rule, and its number is left as it was.
        let file = format!(
            "telephoneNumber,accountName,serviceDetails_teamsDirectRouting_enabled,tags\n\
             {N1},alpha,true,\n{N2},alpha,true,new\n{N3},alpha,true,ok;bad\u{1}\n"
        );
        let (tally, errors) = import(file).await;
        assert_eq!((tally.changed, tally.invalid), (2, 1), "{errors:?}");
        assert_eq!(errors, [(4, "tags[1]".to_owned(), "InvalidValue".to_owned())]);
        assert_eq!(tags_of(&core, N1).await, "");
        assert_eq!(tags_of(&core, N2).await, "new");
        assert_eq!(tags_of(&core, N3).await, "a;b");
        // A file without the column leaves tags alone.
        let file = format!("telephoneNumber,accountName,serviceDetails_teamsDirectRouting_enabled\n{N2},alpha,true\n");
        import(file).await;
        assert_eq!(tags_of(&core, N2).await, "new");
    })
    .await;
}

#[tokio::test]
async fn a_bulk_tag_job_tags_every_number_a_search_matches_and_untags_them() {
    on_every_backend(|core| async move {
        account(&core, "alpha").await;
        account(&core, "bravo").await;
        put(&core, N1, "alpha").await;
        put(&core, N2, "alpha").await;
        put(&core, N3, "bravo").await;
        let alpha = NumberFilter {
            account: Some(AccountName::parse("alpha").unwrap()),
            ..NumberFilter::default()
        };
        let tag = BulkAction::Tag(TagChange {
            add: tags("porting"),
            remove: Tags::default(),
        });
        let run = core
            .start_bulk(admin(), &tag, "alpha's numbers", Some(2))
            .await
            .unwrap();
        let tally = core
            .run_bulk(run, &tag, Selection::Matching(alpha.clone()))
            .await
            .unwrap();
        assert_eq!((tally.changed, tally.invalid), (2, 0));
        assert_eq!(tags_of(&core, N1).await, "porting");
        assert_eq!(tags_of(&core, N3).await, "");
        // The tag now selects them, and an untag by that very filter empties it.
        let porting = NumberFilter {
            tag: Some(Tag::parse("porting").unwrap()),
            ..NumberFilter::default()
        };
        assert_eq!(core.count_numbers(&admin(), &porting).await.unwrap(), 2);
        let untag = BulkAction::Tag(TagChange {
            add: Tags::default(),
            remove: tags("porting"),
        });
        let run = core
            .start_bulk(admin(), &untag, "tagged", Some(2))
            .await
            .unwrap();
        let tally = core
            .run_bulk(run, &untag, Selection::Matching(porting.clone()))
            .await
            .unwrap();
        assert_eq!(tally.changed, 2);
        assert_eq!(core.count_numbers(&admin(), &porting).await.unwrap(), 0);
    })
    .await;
}

/// Two writers adding different tags to the same numbers at once (on PostgreSQL, where they
/// really run at once) both land: neither overwrites the other with what it read.
#[tokio::test]
async fn two_writers_tagging_the_same_numbers_at_once_both_land() {
    on_every_backend(|core| async move {
        account(&core, "alpha").await;
        let numbers: Vec<TelephoneNumber> =
            (0..200).map(|i| tn(&format!("+44207111{i:04}"))).collect();
        for n in &numbers {
            put(&core, n.as_str(), "alpha").await;
        }
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let (core, numbers) = (core.clone(), numbers.clone());
                tokio::spawn(async move {
                    let change = TagChange {
                        add: tags(&format!("w{w}")),
                        remove: Tags::default(),
                    };
                    core.change_tags(&admin(), &change, &numbers).await.unwrap()
                })
            })
            .collect();
        for writer in writers {
            assert_eq!(writer.await.unwrap().done, 200);
        }
        for n in [&numbers[0], &numbers[199]] {
            assert_eq!(tags_of(&core, n.as_str()).await, "w0;w1;w2;w3");
        }
    })
    .await;
}
