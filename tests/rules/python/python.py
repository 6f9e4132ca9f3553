# ruff: noqa  (deliberately vulnerable Semgrep rule-test fixture, never imported)
import os, subprocess, pickle, yaml, hashlib, random, tempfile, requests
from flask import request, Flask, redirect, send_file, make_response
app = Flask(__name__)

def q(cur, name):
    # ruleid: vulnsight.python.sqli-formatted-query
    cur.execute("SELECT * FROM t WHERE n = '%s'" % name)
    # ruleid: vulnsight.python.sqli-formatted-query
    cur.execute(f"SELECT * FROM t WHERE n = '{name}'")
    sql = "SELECT * FROM t WHERE n = '" + name + "'"
    # ruleid: vulnsight.python.sqli-formatted-query
    cur.execute(sql)
    # ok: vulnsight.python.sqli-formatted-query
    cur.execute("SELECT * FROM t WHERE n = ?", (name,))
    # ruleid: vulnsight.python.sqli-formatted-query
    cur.execute("SELECT * FROM t WHERE n = {}".format(name))
    # ruleid: vulnsight.python.os-command-non-constant
    os.system("ls " + name)
    # ok: vulnsight.python.os-command-non-constant
    os.system("ls -l")
    # ruleid: vulnsight.python.os-command-non-constant
    subprocess.call(name, shell=True)
    # ok: vulnsight.python.os-command-non-constant
    subprocess.call(["ls", name])
    # ruleid: vulnsight.python.code-eval-non-constant
    eval(name)
    # ok: vulnsight.python.code-eval-non-constant
    eval("1+1")
    # ruleid: vulnsight.python.unsafe-deserialization
    pickle.loads(name)
    # ruleid: vulnsight.python.yaml-unsafe-load
    yaml.load(name)
    # ok: vulnsight.python.yaml-unsafe-load
    yaml.load(name, Loader=yaml.SafeLoader)
    # ruleid: vulnsight.python.weak-hash, vulnsight.python.weak-hash-password
    hashlib.md5(password).hexdigest()
    # ruleid: vulnsight.python.weak-hash
    hashlib.md5(data)
    # ruleid: vulnsight.python.insecure-random-secret
    token = random.randint(0, 10)
    # ok: vulnsight.python.insecure-random-secret
    x = random.randint(0, 10)
    # ruleid: vulnsight.python.tempfile-mktemp
    tempfile.mktemp()
    # ruleid: vulnsight.python.tls-verification-disabled
    requests.get(name, verify=False)
    # ruleid: vulnsight.python.hardcoded-password
    password = "hunter22"
    # ok: vulnsight.python.hardcoded-password
    password = ""

@app.route("/a")
def a():
    n = request.args.get("n")
    # ruleid: vulnsight.python.xss-unescaped-request-data
    return "<p>%s</p>" % n

@app.route("/b")
def b():
    f = request.args["f"]
    # ruleid: vulnsight.python.path-traversal-request-path
    return send_file(f)

@app.route("/c")
def c():
    f = request.args["f"]
    # ok: vulnsight.python.path-traversal-request-path
    return send_file(os.path.basename(f))

@app.route("/d")
def d():
    # ruleid: vulnsight.python.open-redirect
    return redirect(request.args.get("next"))

@app.route("/e")
def e():
    # ruleid: vulnsight.python.ssrf-request-url
    return requests.get(request.args["url"]).text

def quoting(host, name):
    # ok: vulnsight.python.os-command-non-constant
    subprocess.call("ping -c 1 " + shlex.quote(host), shell=True)
    # ruleid: vulnsight.python.os-command-non-constant
    subprocess.call("ping -c 1 " + host, shell=True)

def codes():
    # ruleid: vulnsight.python.insecure-random-secret
    reset_code = random.randint(100000, 999999)
    # ok: vulnsight.python.insecure-random-secret
    backoff_seconds = random.uniform(0, 1)
    # ok: vulnsight.python.insecure-random-secret
    width = random.randint(1, 9)
    return reset_code, backoff_seconds, width

def tls(ctx):
    # ok: vulnsight.python.tls-verification-disabled
    ctx.check_hostname = False
    # ruleid: vulnsight.python.tls-verification-disabled
    ctx.verify_mode = ssl.CERT_NONE

def from_code(env, code: CodeType, namespace):
    # ok: vulnsight.python.code-eval-non-constant
    exec(code, namespace)

def link():
    # ok: vulnsight.python.insecure-random-secret
    link_id = random.randint(0, 999999)
    return link_id
