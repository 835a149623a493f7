#!/usr/bin/env python3
"""Generates the example project's raw data under seeds/: deterministic, small
enough to commit, realistic enough to exercise every model.

- raw_events.csv: web and app events, 1-21 November 2026: anonymous visits with
  UTM tags, logins, sign-ups and orders (event logs partitioned by event_date)
- dw_users.csv, dw_orders.csv: the service database's users and orders, with
  customers from before November so that dormant win-backs exist
- mkt_ad_spend.csv: daily spend per ad platform and campaign, UTM tags written
  in the platforms' own mixed case

    python3 scripts/generate_seeds.py
"""

import csv
import datetime as dt
import os
import random

rng = random.Random(20261120)
SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "seeds")
START = dt.date(2026, 11, 1)
DAYS = 21

CAMPAIGNS = [
    # (utm_source, utm_medium, utm_campaign, daily budget, share of visits)
    ("google", "cpc", "brand_search", 120.0, 0.22),
    ("google", "cpc", "generic_search", 260.0, 0.14),
    ("facebook", "paid_social", "fall_sale", 180.0, 0.16),
    ("instagram", "paid_social", "fall_sale", 90.0, 0.08),
    ("naver", "cpc", "brand_search", 70.0, 0.07),
    ("newsletter", "email", "weekly_digest", 0.0, 0.08),
]
PAGES = ["/", "/products", "/products/coat", "/products/boots", "/products/scarf", "/cart", "/pricing", "/blog/fall-lookbook"]
COUNTRIES = ["KR", "KR", "KR", "US", "JP", "DE"]
STATUSES = ["placed", "paid", "shipped", "delivered", "delivered", "delivered", "cancelled", "refunded"]


def ts(day: dt.date, seconds: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)


def iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S")


def main() -> None:
    events, users, orders = [], [], []
    next_user, next_order, next_event = 1001, 50001, 1

    def add_event(at, anonymous_id, user_id, name, page, utm):
        nonlocal next_event
        events.append([next_event, iso(at), at.date().isoformat(), anonymous_id, user_id or "", name, page, *utm])
        next_event += 1

    def add_order(user_id, at):
        nonlocal next_order
        status = rng.choice(STATUSES)
        amount = round(rng.uniform(15, 240), 2)
        updated = at + dt.timedelta(hours=rng.randint(1, 72))
        orders.append([next_order, user_id, iso(at), amount, status, iso(updated)])
        next_order += 1
        return next_order - 1

    # Customers from before November, some of whom come back (dormant win-backs).
    for _ in range(80):
        signed_up = ts(dt.date(2026, 8, 1) + dt.timedelta(days=rng.randrange(60)), rng.randrange(86400))
        users.append([next_user, iso(signed_up), rng.choice(COUNTRIES), rng.random() < 0.4])
        for _ in range(rng.randint(0, 3)):
            add_order(next_user, signed_up + dt.timedelta(days=rng.randint(0, 40), seconds=rng.randrange(86400)))
        next_user += 1
    returning = [u[0] for u in users]

    # November's visitors: one anonymous id per device.
    visitor = 0
    for offset in range(DAYS):
        day = START + dt.timedelta(days=offset)
        weekend = day.weekday() >= 5
        for _ in range(rng.randint(22, 30) + (6 if weekend else 0)):
            visitor += 1
            anonymous_id = f"anon_{visitor:05d}"
            roll, utm = rng.random(), ("", "", "")
            for source, medium, campaign, _, share in CAMPAIGNS:
                if roll < share:
                    # Platforms tag links inconsistently; the models normalise.
                    utm = (rng.choice([source, source.capitalize()]), medium, campaign)
                    break
                roll -= share
            user_id = None
            day_offset = offset
            for visit in range(rng.choice([1, 1, 1, 2, 2, 3])):
                if visit > 0:
                    day_offset += rng.randint(1, 5)
                    utm = ("", "", "")
                if day_offset >= DAYS:
                    break
                visit_day = START + dt.timedelta(days=day_offset)
                clock = rng.randrange(7 * 3600, 23 * 3600)
                for page in rng.sample(PAGES, rng.randint(1, 5)):
                    add_event(ts(visit_day, clock), anonymous_id, user_id, "page_view", page, utm)
                    clock += rng.randint(20, 300)
                if user_id is None and rng.random() < 0.22:
                    user_id = next_user
                    next_user += 1
                    clock += 60
                    users.append([user_id, iso(ts(visit_day, clock)), rng.choice(COUNTRIES), rng.random() < 0.5])
                    add_event(ts(visit_day, clock), anonymous_id, user_id, "sign_up", "/signup", utm)
                elif user_id is not None:
                    clock += 30
                    add_event(ts(visit_day, clock), anonymous_id, user_id, "login", "/login", utm)
                if user_id is not None and rng.random() < 0.35:
                    clock += rng.randint(60, 900)
                    order_id = add_order(user_id, ts(visit_day, clock))
                    add_event(ts(visit_day, clock), anonymous_id, user_id, "order", f"/orders/{order_id}", utm)
        # Earlier customers come back and order, logged in on a device of their own.
        for user_id in rng.sample(returning, rng.randint(0, 2)):
            anonymous_id = f"anon_r{user_id}"
            clock = rng.randrange(8 * 3600, 22 * 3600)
            add_event(ts(day, clock), anonymous_id, user_id, "login", "/login", ("", "", ""))
            order_id = add_order(user_id, ts(day, clock + 120))
            add_event(ts(day, clock + 120), anonymous_id, user_id, "order", f"/orders/{order_id}", ("", "", ""))

    spend = []
    for offset in range(DAYS):
        day = START + dt.timedelta(days=offset)
        for source, medium, campaign, budget, _ in CAMPAIGNS:
            if budget == 0:
                continue
            cost = round(budget * rng.uniform(0.8, 1.15), 2)
            impressions = int(cost * rng.uniform(40, 70))
            clicks = int(impressions * rng.uniform(0.01, 0.04))
            spend.append([day.isoformat(), source.capitalize() if source != "naver" else "NAVER", medium.upper() if medium == "cpc" else medium, campaign, impressions, clicks, cost])

    write("raw_events.csv", ["event_id", "event_at", "event_date", "anonymous_id", "user_id", "event_name", "page_path", "utm_source", "utm_medium", "utm_campaign"], sorted(events, key=lambda e: (e[1], e[0])))
    write("dw_users.csv", ["user_id", "signed_up_at", "country", "marketing_opt_in"], users)
    write("dw_orders.csv", ["order_id", "user_id", "ordered_at", "amount", "status", "updated_at"], orders)
    write("mkt_ad_spend.csv", ["spend_date", "utm_source", "utm_medium", "utm_campaign", "impressions", "clicks", "cost"], spend)


def write(name, header, rows):
    os.makedirs(SEEDS, exist_ok=True)
    with open(os.path.join(SEEDS, name), "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["True" if v is True else "False" if v is False else v for v in row])
    print(f"seeds/{name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
