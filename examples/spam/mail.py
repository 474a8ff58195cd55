#!/usr/bin/python3
"""The mail server of the spam example, simulated: it asks the served model
about each incoming message, one message per request (as a mail server does,
before delivery), and its users' "spam" / "not spam" buttons send the truth
back as feedback, by request id.

  python3 mail.py send URL MESSAGES.csv [--rows FROM:TO] [--shift] [--feedback]
                       [--token TOKEN]
  python3 mail.py load URL MESSAGES.csv --until-version V [--shift] [--out FILE]

MESSAGES.csv is held-out rows of spambase (the split's valid or test rows,
exported as CSV): the 57 features and the truth, `label` (1 spam, 0 not) or
else `type` (spam, nonspam). Neither is sent: a new message has no verdict
yet; the feedback gives the truth as that column has it. The rows are taken in one
fixed shuffled order (mail arrives mixed).

send   scores rows FROM to TO-1 of that order (from 0), then
       sends every label back in one feedback request (--feedback); prints
       {"sent", "failed", "labelled", "junk", "spam", "caught", "false_junk"}.
load   two keep-alive clients send messages (in a loop over the file)
       until the server answers with model version V, then for half a
       second more; counts every answer and every failure, a refused or
       reset connection included; prints {"sent", "failed", "codes",
       "versions"}. It gives up after 120 s (exit 1).

--shift applies the spam-strategy change (shift() below) to the spam rows.
Standard library only; sluice itself needs no Python.
"""
import csv
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse

# The spam-strategy change. The filter learned that spam shouts (long runs
# of capitals) and sells (free, money, remove, your, $, !, 000). Spammers
# who see their messages land in junk change both: they write in sentence
# case, and they put the offer in the words of ordinary business mail. Each
# spam row of spambase is rewritten so:
#
#   capital runs:   capitalAve 1 + (a - 1) / 4, capitalLong and capitalTotal
#                   divided by 4 (rounded, at least 1): sentence case;
#   selling words:  80% of the frequency of free, money, remove, your,
#                   charDollar, charExclamation, num000, you, all and over
#                   moves to a word of business mail (receive, credit,
#                   business, our, order, report, internet, will, email,
#                   people): the same offer in other words;
#
# a frequency is a percentage of the message's words, so a moved share
# keeps each message's total unchanged. Real mail (nonspam rows) is left as
# it was: the users' behaviour did not change, the spammers' did.
MOVES = (("free", "receive"), ("money", "credit"), ("remove", "business"), ("your", "our"),
         ("charDollar", "order"), ("charExclamation", "report"), ("num000", "internet"),
         ("you", "will"), ("all", "email"), ("over", "people"))
MOVED = 0.8
CAPITALS = 4.0


def truth(row):
    """The truth column of a row: label (1/0) when there is one, else type."""
    return "label" if "label" in row else "type"


def is_spam(row):
    return row[truth(row)] in ("1", "spam")


def shift(row):
    if not is_spam(row):
        return row
    r = dict(row)
    r["capitalAve"] = "%.3f" % (1 + (float(r["capitalAve"]) - 1) / CAPITALS)
    for c in ("capitalLong", "capitalTotal"):
        r[c] = str(max(1, round(float(r[c]) / CAPITALS)))
    for src, dst in MOVES:
        v = float(r[src])
        r[src] = "%.3f" % (v * (1 - MOVED))
        r[dst] = "%.3f" % (float(r[dst]) + v * MOVED)
    return r


def read(path, do_shift):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit("mail.py: %s has no rows" % path)
    # Mail arrives mixed; an export of a split is in the data's order (all
    # spam first). The same order every time, so --rows slices never overlap.
    random.Random(1).shuffle(rows)
    if do_shift:
        rows = [shift(r) for r in rows]
    return rows


# name -> V2 datatype of the model's inputs, from its metadata (GET
# /v2/models/spam), as a client that follows the served signature sends them.
TYPES = {}


def signature(url):
    c = connect(url)
    c.request("GET", "/v2/models/spam")
    resp = c.getresponse()
    meta = json.loads(resp.read())
    if resp.status != 200:
        sys.exit("mail.py: GET /v2/models/spam answered %d: %s" % (resp.status, meta))
    TYPES.update((i["name"], i["datatype"]) for i in meta["inputs"])


def body(row):
    def value(k, v):
        return int(float(v)) if TYPES[k] == "INT64" else float(v)
    return json.dumps({"inputs": [
        {"name": k, "shape": [1], "datatype": TYPES[k], "data": [value(k, v)]}
        for k, v in row.items() if k in TYPES and k not in ("type", "label")]})


def connect(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


H = {"Content-Type": "application/json"}


def send(url, rows, feedback, token):
    c = connect(url)
    ids, labels = [], []
    out = {"sent": 0, "failed": 0, "labelled": 0, "junk": 0, "spam": 0, "caught": 0,
           "false_junk": 0}
    for r in rows:
        c.request("POST", "/v2/models/spam/infer", body(r), H)
        resp = c.getresponse()
        answer = resp.read()
        out["sent"] += 1
        if resp.status != 200:
            out["failed"] += 1
            continue
        decided = {o["name"]: o["data"] for o in json.loads(answer)["outputs"]}["predict"][0]
        decided = 1 if decided in (1, "1", "spam") else 0
        spam = is_spam(r)
        out["junk"] += decided == 1
        out["spam"] += spam
        out["caught"] += spam and decided == 1
        out["false_junk"] += (not spam) and decided == 1
        ids.append(resp.getheader("X-Request-Id"))
        t = truth(r)
        labels.append(int(r[t]) if t == "label" else r[t])
    if feedback and ids:
        h = dict(H)
        if token:
            h["Authorization"] = "Bearer " + token
        c.request("POST", "/v2/models/spam/feedback",
                  json.dumps({"request_ids": ids, "labels": labels}), h)
        resp = c.getresponse()
        b = json.loads(resp.read() or b"{}")
        if resp.status != 200:
            sys.exit("mail.py: feedback answered %d: %s" % (resp.status, b))
        out["labelled"] = b.get("accepted", 0)
    return out


def load(url, rows, until):
    stats = {"sent": 0, "failed": 0, "codes": {}, "versions": {}}
    lock = threading.Lock()
    state = {"stop_at": None}

    def worker(k):
        c, i = None, k
        while state["stop_at"] is None or time.time() < state["stop_at"]:
            try:
                if c is None:
                    c = connect(url)
                c.request("POST", "/v2/models/spam/infer", body(rows[i % len(rows)]), H)
                resp = c.getresponse()
                answer = resp.read()
                v = json.loads(answer).get("model_version", "?") if resp.status == 200 else "-"
                with lock:
                    stats["sent"] += 1
                    s = str(resp.status)
                    stats["codes"][s] = stats["codes"].get(s, 0) + 1
                    stats["failed"] += resp.status != 200
                    stats["versions"][v] = stats["versions"].get(v, 0) + 1
            except (OSError, http.client.HTTPException, ValueError):
                with lock:
                    stats["sent"] += 1
                    stats["failed"] += 1
                c = None
            i += 2

    ths = [threading.Thread(target=worker, args=(k,)) for k in (0, 1)]
    for t in ths:
        t.start()
    deadline = time.time() + 120
    c = connect(url)
    while time.time() < deadline:
        try:
            c.request("GET", "/v2/models/spam")
            resp = c.getresponse()
            meta = json.loads(resp.read())
            if str(until) in [str(v) for v in meta.get("versions", [])]:
                break
        except (OSError, http.client.HTTPException, ValueError):
            c = connect(url)
        time.sleep(0.05)
    ok = time.time() < deadline
    state["stop_at"] = time.time() + 0.5
    for t in ths:
        t.join()
    if not ok:
        stats["timeout"] = True
    return stats, ok


def main(argv):
    if len(argv) < 4 or argv[1] not in ("send", "load"):
        sys.exit(__doc__)
    mode, url, path = argv[1], argv[2], argv[3]
    opts = {"--rows": None, "--token": None, "--until-version": None, "--out": None}
    flags = set()
    i = 4
    while i < len(argv):
        a = argv[i]
        if a in ("--shift", "--feedback"):
            flags.add(a)
        elif a in opts and i + 1 < len(argv):
            i += 1
            opts[a] = argv[i]
        else:
            sys.exit("mail.py: unknown argument %s" % a)
        i += 1
    rows = read(path, "--shift" in flags)
    signature(url)
    if mode == "send":
        if opts["--rows"]:
            try:
                lo, hi = (int(x) for x in opts["--rows"].split(":"))
            except ValueError:
                sys.exit("mail.py: --rows takes FROM:TO (0:500), not %s" % opts["--rows"])
            rows = rows[lo:hi]
        out, ok = send(url, rows, "--feedback" in flags, opts["--token"]), True
    else:
        if not opts["--until-version"]:
            sys.exit("mail.py: load needs --until-version")
        out, ok = load(url, rows, opts["--until-version"])
    text = json.dumps(out)
    if opts["--out"]:
        with open(opts["--out"], "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
