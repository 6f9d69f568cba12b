"""What the runner claims beyond capacities: rate limits, aging and concurrency keys.

Rows of the candidate statements (engine/sql.py CANDIDATES, CANDIDATES_AGED)
are ``(id, raw channel, priority or aged priority, concurrency key, jobs per key)``.
"""

from collections import defaultdict


def rate_waits(db, live, raws):
    """Seconds before each rate-limited channel of these raw channels may start a job (0: now).

    Counted from the starts stored in the database, so the count holds
    whichever runner made them.
    """
    limited = {limit for raw in raws for limit in live.rate_limited(raw)}
    if not limited:
        return {}
    windows = db.rate_windows({name: live.rate_limits[name].period for name in limited})
    return {name: live.rate_limits[name].wait(*windows.get(name, (0, None, None))) for name in limited}


def choose(db, live, wanted, per_channel, running, blocked):
    """The candidates of the ``wanted`` raw channels that fit capacities, rate limits and keys.

    Returns the chosen rows, the (job id, rate-limited channel) starts to
    count with the claim, and whether a candidate was skipped for a key that
    this claim used up (jobs behind it may fit once the claim is committed).
    """
    aged = {raw: step for raw in wanted if (step := live.aging_step(raw))}
    plain = [raw for raw in wanted if raw not in aged]
    candidates = db.candidates(plain, per_channel) if plain else []
    if aged:
        for raw, step in aged.items():
            candidates += db.aged_candidates(raw, step, per_channel)
        candidates.sort(key=lambda row: (row[2], row[0]))
    keys = {row[3] for row in candidates if row[3]}
    keys_running = db.running_by_key(keys) if keys else {}
    keys_taken = defaultdict(int)
    rates_taken = set()
    rated = []
    skipped = []

    def admit(row):
        job_id, raw, key, limit = row[0], row[1], row[3], row[4]
        limits = live.rate_limited(raw) if live.rate_limits else []
        if rates_taken.intersection(limits):
            return False  # one start per rate-limited channel and claim: starts spread over the period
        if key:
            if keys_running.get(key, 0) + keys_taken[key] >= (limit or 1):
                skipped.append(job_id)
                return False
            keys_taken[key] += 1
        rates_taken.update(limits)
        rated.extend((job_id, name) for name in limits)
        return True

    chosen = live.tree.allocate(candidates, lambda row: row[1], running, blocked, admit=admit)
    return chosen, rated, bool(skipped)
