"""tools.mailsink's per-message work: the subject read from raw bytes, the stats file."""

import json

from tools.mailsink import Stats, subject_of


def test_the_subject_is_read_from_the_header_block_only():
    raw = b"From: a@b.c\r\nSubject: Order 1a2b3c4d confirmed\r\nTo: x@y.z\r\n\r\nSubject: no\r\n"
    assert subject_of(raw) == "Order 1a2b3c4d confirmed"
    assert subject_of(b"From: a@b.c\r\n\r\nSubject: in the body\r\n") == ""


def test_a_folded_encoded_subject_is_unfolded_and_decoded():
    raw = (b"subject: =?utf-8?q?Commande_confirm=C3=A9e_=E2=80=94_merci?=\r\n"
           b" =?utf-8?q?_Zo=C3=AB?=\r\nTo: x@y.z\r\n\r\nbody")
    assert subject_of(raw) == "Commande confirmée — merci Zoë"
    assert subject_of(b"Subject: plain\n folded\n\nbody") == "plain folded"


def test_the_stats_file_is_replaced_whole(tmp_path):
    stats = Stats(tmp_path / "stats.json")
    stats.connections, stats.messages = 2, 5
    stats.write()
    assert json.loads((tmp_path / "stats.json").read_text()) == {"connections": 2, "messages": 5}
    assert [p.name for p in tmp_path.iterdir()] == ["stats.json"]
