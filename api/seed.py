"""The demo data set that `make run` loads: documented in the README, safe to load twice.

MFA demo devices (fixed, documented secrets: demo data only, never a real account):
- demo.supplier: Google Authenticator with key DEMO_TOTP_SECRETS["demo.supplier"], and text messages to
  +1 202-555-0143 (codes appear at /dev/outbox). Add the key to an authenticator app ("enter a setup
  key", time-based), or print the current code with
  `.venv/bin/python -c "import pyotp; print(pyotp.TOTP('DEMOSUPPLIERGOOGLEAUTHENTICATOR2').now())"`.
- demo.agent: Google Authenticator with key DEMO_TOTP_SECRETS["demo.agent"].
- demo.supplier2: no device, to demo the MFA set-up that signing in requires.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import clock
from api.auth.models import Bidder, DeviceKind, DeviceStatus, MfaDevice, Role, User
from api.auth.passwords import hash_password
from api.database import make_engine
from api.documents.reference_data import sync_reference_data

DEMO_TOTP_SECRETS = {
    "demo.supplier": "DEMOSUPPLIERGOOGLEAUTHENTICATOR2",
    "demo.agent": "DEMOAGENTGOOGLEAUTHENTICATORKEY2",
}

# user_id, kind, label, TOTP secret or phone number
DEMO_DEVICES = [
    ("demo.supplier", DeviceKind.google_authenticator, "Google Authenticator", DEMO_TOTP_SECRETS["demo.supplier"]),
    ("demo.supplier", DeviceKind.text_message, "Text message to (***) ***-0143", "+12025550143"),
    ("demo.agent", DeviceKind.google_authenticator, "Google Authenticator", DEMO_TOTP_SECRETS["demo.agent"]),
]

DEMO_BIDDERS = [
    ("12345", "Acme Home Medical LLC"),
    ("67890", "Acme Mobility Supplies Inc"),
    ("24680", "Bayside Respiratory Care"),
]

# user_id, password, first, last, email, phone, role, bidder numbers
DEMO_USERS = [
    (
        "demo.supplier",
        "Connexion-demo-2021",
        "Dana",
        "Supplier",
        "dana@acme-home-medical.example",
        "+12025550143",
        Role.supplier,
        ["12345", "67890"],
    ),
    (
        "demo.supplier2",
        "Bayside-demo-2021",
        "Sam",
        "Bayside",
        "sam@bayside-respiratory.example",
        "+13055550118",
        Role.supplier,
        ["24680"],
    ),
    ("demo.agent", "Agent-demo-2021", "Alex", "Agent", "alex.agent@cbic.example", "+18775775331", Role.agent, []),
]


def load_demo_data(url: str) -> Iterator[str]:
    """Insert the demo rows that are missing; yield one line per demo sign-in."""
    engine = make_engine(url)
    with Session(engine) as db:
        bidders = {}
        for number, organization in DEMO_BIDDERS:
            bidder = db.scalar(select(Bidder).where(Bidder.bidder_number == number))
            if bidder is None:
                bidder = Bidder(bidder_number=number, organization=organization)
                db.add(bidder)
            bidders[number] = bidder
        users = {}
        for user_id, password, first, last, email, phone, role, numbers in DEMO_USERS:
            user = db.scalar(select(User).where(User.user_id == user_id))
            if user is None:
                user = User(
                    user_id=user_id,
                    first_name=first,
                    last_name=last,
                    email=email,
                    phone=phone,
                    role=role,
                    password_hash=hash_password(password),
                )
                user.bidders = [bidders[n] for n in numbers]
                db.add(user)
            users[user_id] = user
            yield f"{role.value:<8} {user_id:<15} password {password:<20} bidders {', '.join(numbers) or '-'}"
        db.flush()
        for user_id, kind, label, value in DEMO_DEVICES:
            yield _demo_device(db, users[user_id], kind, label, value)
        sync_reference_data(db=db)  # bid cycles, document types and descriptions, CBAs
        db.commit()
    engine.dispose()


def _demo_device(db: Session, user: User, kind: DeviceKind, label: str, value: str) -> str:
    """Add a demo MFA device unless the user has it already; one line describing it."""
    uses_app = kind.uses_app
    existing = db.scalar(
        select(MfaDevice).where(
            MfaDevice.user_pk == user.id,
            MfaDevice.kind == kind,
            (MfaDevice.totp_secret if uses_app else MfaDevice.phone) == value,
        )
    )
    if existing is None:
        now = clock.now()
        db.add(
            MfaDevice(
                user_pk=user.id,
                kind=kind,
                status=DeviceStatus.active,
                label=label,
                phone=None if uses_app else value,
                totp_secret=value if uses_app else None,
                created_at=now,
                activated_at=now,
            )
        )
    what = f"key {value}" if uses_app else f"codes to {value} (see /dev/outbox)"
    return f"{'mfa':<8} {user.user_id:<15} {kind.display_name}: {what}"
