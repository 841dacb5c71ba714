"""The email hash is a contract with every stored key: pin it to vectors computed outside Python."""

import pytest

from attract.identity import email_hash, normalise_email

PEPPER = "attract-test-pepper-0123456789"


# Computed independently with OpenSSL:
#   printf '%s' 'ada.lovelace@example.com' | openssl dgst -sha256 -hmac 'attract-test-pepper-0123456789'
@pytest.mark.parametrize(
    ("email", "digest"),
    [
        ("ada.lovelace@example.com", "eaa2650fc6d88b7add01b1f91f9e04b4b1f2c184e1c7fad4a17f4d73ab3ca890"),
        ("grüße@bücher.example", "96bb773affb8c77015ba0a3af81232d5e4276dbbfd26f0b66b829c738e3392a5"),  # UTF-8 bytes
    ],
)
def test_email_hash_matches_an_independent_hmac_sha256(email, digest):
    assert email_hash(email, PEPPER) == digest


def test_the_same_address_in_any_case_or_padding_hashes_the_same():
    assert email_hash(normalise_email("  Ada.Lovelace@Example.COM "), PEPPER) == (
        "eaa2650fc6d88b7add01b1f91f9e04b4b1f2c184e1c7fad4a17f4d73ab3ca890")
    assert email_hash("ada.lovelace@example.com", PEPPER + "x") != email_hash("ada.lovelace@example.com", PEPPER)


@pytest.mark.parametrize(("address", "mailbox"), [
    ("ada@example.com", "ada@example.com"),
    ("Ada+Jobs@Example.COM", "ada@example.com"),  # +tag, case
    ("ada+1+2@example.com", "ada@example.com"),
    ("a.d.a@example.com", "a.d.a@example.com"),  # dots matter outside Gmail
    ("a.d.a+x@gmail.com", "ada@gmail.com"),
    ("A.D.A@googlemail.com", "ada@gmail.com"),  # googlemail.com is gmail.com
    ("+only@example.com", "@example.com"),
])
def test_the_mailbox_key_folds_tags_case_and_gmail_dots(address, mailbox):
    # Issue 13: victim+1@, victim+2@ … must count as one mailbox (only for counting: mail goes to the address typed)
    from attract.identity import mailbox_key

    assert mailbox_key(normalise_email(address)) == mailbox
