#!/usr/bin/env python3
"""A client of the scoring service for tests/e2e/serve.sh.

  serve_client.py parity URL LEADS.csv CLI_OUT.csv MODE
      Scores every lead of LEADS.csv through the service (MODE single: one
      request per lead; batch: requests of 50; csv: the file's own bytes as
      text/csv; json-numbers: batches with numeric columns sent as JSON
      numbers) and compares each with fedlead-score's --out line for it
      (CLI_OUT.csv, written with --reasons both): the score as the CLI
      prints it (%.6f), the decile, every reason code and its contribution
      (%.4f), both directions. Prints the logits of every lead, full
      precision, one per line, for comparing modes bit for bit.
  serve_client.py load URL LEADS.csv STOPFILE EXPECT.json THREADS PROGRESS
      THREADS clients post batches of 1 to 20 leads over keep-alive
      connections until STOPFILE exists, writing the number of requests
      answered so far to PROGRESS; every answer must be 200 and every
      lead in it must carry the score that EXPECT.json ({sha256: {id:
      "%.6f" score}}) gives for the model the answer names. Prints
      "requests N failures F models K mismatches M".
  serve_client.py post URL CONTENT-TYPE BODY [--token T] [--ca F] [--cert F --key F]
      One request; prints the status code, then the body.
"""
import csv
import http.client
import json
import os
import random
import ssl
import sys
import threading
import urllib.parse


def connect(url, ca=None, cert=None, key=None, tls_max=None):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=ca)
        if tls_max is not None:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.maximum_version = tls_max
        if cert:
            ctx.load_cert_chain(cert, key)
        return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def request(conn, path, body, ctype, headers=None):
    h = {"Content-Type": ctype}
    if headers:
        h.update(headers)
    conn.request("POST", path, body=body, headers=h)
    r = conn.getresponse()
    return r.status, r.read()


def read_leads(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def as_number(text):
    try:
        v = float(text)
    except ValueError:
        return text
    return int(text) if text.lstrip("-").isdigit() else v


def cli_lines(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    return {r[0]: dict(zip(head, r)) for r in rows[1:]}


def same_reason(got, want, numbers):
    """A reason's text; with numbers sent as JSON numbers, a value quotes
    the number in its shortest form ("revenue=41.8" for the file's
    "41.80"), the same number."""
    if got == want or not numbers:
        return got == want
    g, w = got.split("=", 1), want.split("=", 1)
    try:
        return g[0] == w[0] and float(g[1]) == float(w[1])
    except (IndexError, ValueError):
        return False


def compare(lead, want, bad, numbers=False):
    lid = str(lead["id"])
    w = want.get(lid)
    if w is None:
        bad.append("%s: not in the CLI's output" % lid)
        return
    if "%.6f" % lead["score"] != w["score"]:
        bad.append("%s: score %.6f, CLI %s" % (lid, lead["score"], w["score"]))
    if str(lead["decile"]) != w["decile"]:
        bad.append("%s: decile %s, CLI %s" % (lid, lead["decile"], w["decile"]))
    for key, col, ccol in (("reasons", "reason_", "contribution_"),
                           ("down_reasons", "down_reason_", "down_contribution_")):
        got = lead.get(key, [])
        k = 1
        while (col + str(k)) in w:
            text = w[col + str(k)]
            if text == "":
                if k <= len(got):
                    bad.append("%s: %s%d is %r, CLI has none" % (lid, col, k, got[k - 1]))
            elif k > len(got):
                bad.append("%s: no %s%d, CLI %r" % (lid, col, k, text))
            else:
                g = got[k - 1]
                if (not same_reason(g["reason"], text, numbers)
                        or "%.4f" % g["contribution"] != w[ccol + str(k)]):
                    bad.append("%s: %s%d %r %.4f, CLI %r %s" % (
                        lid, col, k, g["reason"], g["contribution"], text, w[ccol + str(k)]))
            k += 1


def parity(url, leads_path, cli_path, mode):
    head, rows = read_leads(leads_path)
    want = cli_lines(cli_path)
    conn = connect(url)
    path = "/v1/score?direction=both"
    got = []
    if mode == "csv":
        with open(leads_path, "rb") as f:
            st, body = request(conn, path, f.read(), "text/csv")
        if st != 200:
            sys.exit("csv: status %d: %s" % (st, body[:300]))
        got = json.loads(body)["leads"]
    else:
        objs = []
        for r in rows:
            o = dict(zip(head, r))
            if mode == "json-numbers":
                o = {k: (as_number(v) if v != "" and k != head[0] else v) for k, v in o.items()}
            if mode == "json-nested":
                # A key the schema does not use, holding an object: the
                # fast reader leaves such a request to jansson's path.
                o["crm"] = {"owner": "x", "tags": [1, 2]}
            objs.append(o)
        if mode == "single":
            for o in objs:
                st, body = request(conn, path, json.dumps(o), "application/json")
                if st != 200:
                    sys.exit("single %s: status %d: %s" % (o.get("lead"), st, body[:300]))
                got += json.loads(body)["leads"]
        else:
            for i in range(0, len(objs), 50):
                st, body = request(conn, path, json.dumps(objs[i:i + 50]), "application/json")
                if st != 200:
                    sys.exit("batch at %d: status %d: %s" % (i, st, body[:300]))
                got += json.loads(body)["leads"]
    bad = []
    if len(got) != len(rows):
        bad.append("%d leads scored, the file has %d" % (len(got), len(rows)))
    for lead in got:
        compare(lead, want, bad, mode == "json-numbers")
    if bad:
        sys.exit("%d differences, first: %s" % (len(bad), "; ".join(bad[:5])))
    for lead in got:
        print("%s %r" % (lead["id"], lead["logit"]))


def load(url, leads_path, stopfile, expect_path, threads, progress):
    head, rows = read_leads(leads_path)
    objs = [dict(zip(head, r)) for r in rows]
    with open(expect_path) as f:
        expect = json.load(f)
    lock = threading.Lock()
    stats = {"requests": 0, "failures": 0, "mismatches": 0, "models": set(), "why": []}

    def worker(seed):
        rnd = random.Random(seed)
        conn = connect(url)
        while not os.path.exists(stopfile):
            batch = rnd.sample(objs, rnd.randint(1, 20))
            try:
                st, body = request(conn, "/v1/score", json.dumps(batch), "application/json")
                ans = json.loads(body) if st == 200 else None
            except Exception as e:  # a failed request, whatever the cause
                st, ans = repr(e), None
                conn.close()
                conn = connect(url)
            with lock:
                stats["requests"] += 1
                with open(progress + ".tmp", "w") as f:
                    f.write("%d\n" % stats["requests"])
                os.replace(progress + ".tmp", progress)
                if ans is None:
                    stats["failures"] += 1
                    stats["why"].append(str(st))
                    continue
                sha = ans["model"]["sha256"]
                stats["models"].add(sha)
                exp = expect.get(sha)
                for lead in ans["leads"]:
                    if exp is None or exp.get(lead["id"]) != "%.6f" % lead["score"]:
                        stats["mismatches"] += 1
                        stats["why"].append("lead %s under %s" % (lead["id"], sha[:12]))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("requests %d failures %d models %d mismatches %d" % (
        stats["requests"], stats["failures"], len(stats["models"]), stats["mismatches"]))
    for w in stats["why"][:5]:
        print("  " + w)


def post(argv):
    url, ctype, body = argv[0], argv[1], argv[2]
    opts = dict(zip(argv[3::2], argv[4::2]))
    tls_max = ssl.TLSVersion.TLSv1_2 if opts.get("--tls12") else None
    u = urllib.parse.urlsplit(url)
    conn = connect(url, opts.get("--ca"), opts.get("--cert"), opts.get("--key"), tls_max)
    headers = {}
    if "--token" in opts:
        headers["Authorization"] = "Bearer " + opts["--token"]
    method = opts.get("--method", "POST")
    path = u.path + ("?" + u.query if u.query else "")
    h = dict(headers)
    if method == "POST":
        h["Content-Type"] = ctype
        conn.request(method, path, body=body.encode(), headers=h)
    else:
        conn.request(method, path, headers=h)
    r = conn.getresponse()
    print(r.status)
    sys.stdout.write(r.read().decode("utf-8", "replace"))


def main():
    cmd = sys.argv[1]
    if cmd == "parity":
        parity(*sys.argv[2:6])
    elif cmd == "load":
        load(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7])
    elif cmd == "post":
        post(sys.argv[2:])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
