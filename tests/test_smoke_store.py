from ledger.application import DialogueLedger
from ledger.domain import Access, PostKind, Thread


def test_a_thread_opened_on_each_store_reads_back(ledger: DialogueLedger) -> None:
    alice = ledger.register_person("alice", "Alice").id
    org = ledger.found_organisation("Northwind", "northwind", actor_id=alice).id
    community = ledger.create_community(org, "Voices", "voices", access=Access.OPEN,
                                        actor_id=alice).id
    receipt = ledger.open_thread(community, PostKind.QUESTION, "Why?", "Why so?",
                                 actor_id=alice)
    assert ledger.get(Thread, receipt.id).title == "Why?"
    assert receipt.position == ledger.position
