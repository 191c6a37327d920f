"""The demo data set that `make run` loads: documented in the README, safe to load twice."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth.models import Bidder, Role, User
from api.auth.passwords import hash_password
from api.database import make_engine

DEMO_BIDDERS = [
    ("12345", "Acme Home Medical LLC"),
    ("67890", "Acme Mobility Supplies Inc"),
    ("24680", "Bayside Respiratory Care"),
]

# user_id, password, first, last, email, phone, role, bidder numbers
DEMO_USERS = [
    ("demo.supplier", "Connexion-demo-2021", "Dana", "Supplier", "dana@acme-home-medical.example",
     "+12025550143", Role.supplier, ["12345", "67890"]),
    ("demo.supplier2", "Bayside-demo-2021", "Sam", "Bayside", "sam@bayside-respiratory.example",
     "+13055550118", Role.supplier, ["24680"]),
    ("demo.agent", "Agent-demo-2021", "Alex", "Agent", "alex.agent@cbic.example",
     "+18775775331", Role.agent, []),
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
        for user_id, password, first, last, email, phone, role, numbers in DEMO_USERS:
            user = db.scalar(select(User).where(User.user_id == user_id))
            if user is None:
                user = User(
                    user_id=user_id, first_name=first, last_name=last, email=email, phone=phone,
                    role=role, password_hash=hash_password(password),
                )
                user.bidders = [bidders[n] for n in numbers]
                db.add(user)
            yield f"{role.value:<8} {user_id:<15} password {password:<20} bidders {', '.join(numbers) or '-'}"
        db.commit()
    engine.dispose()
