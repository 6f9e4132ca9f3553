const cp = require('child_process');
const express = require('express');
const app = express();
function q(db, name) {
  // ruleid: vulnsight.javascript.sqli-string-built-query
  db.query("SELECT * FROM t WHERE n = '" + name + "'");
  // ruleid: vulnsight.javascript.sqli-string-built-query
  db.query(`SELECT * FROM t WHERE n = ${name}`);
  // ok: vulnsight.javascript.sqli-string-built-query
  db.query("SELECT * FROM t WHERE n = ?", [name]);
  // ruleid: vulnsight.javascript.command-injection
  cp.exec("ls " + name);
  // ok: vulnsight.javascript.command-injection
  cp.exec("ls");
  // ruleid: vulnsight.javascript.code-eval-non-constant
  eval(name);
  // ok: vulnsight.javascript.code-eval-non-constant
  eval("1+1");
  setTimeout(function () {}, 10);
  // ruleid: vulnsight.javascript.xss-dom-sink
  document.getElementById("x").innerHTML = name;
  // ok: vulnsight.javascript.xss-dom-sink
  document.getElementById("x").innerHTML = "<b>hi</b>";
  // ruleid: vulnsight.javascript.weak-hash
  crypto.createHash('md5');
  // ruleid: vulnsight.javascript.weak-cipher
  crypto.createCipher('aes192', name);
  // ruleid: vulnsight.javascript.insecure-random-secret
  const token = Math.random().toString(36);
  // ok: vulnsight.javascript.insecure-random-secret
  const x = Math.random();
  // ruleid: vulnsight.javascript.prototype-pollution
  target[key][sub] = value;
}
// ruleid: vulnsight.javascript.express-request-data-sinks
app.get('/a', (req, res) => { res.send("<p>" + req.query.name + "</p>"); });
// ruleid: vulnsight.javascript.path-traversal
app.get('/b', (req, res) => { res.sendFile(req.query.f); });
// ruleid: vulnsight.javascript.open-redirect
app.get('/c', (req, res) => { res.redirect(req.query.next); });
// ruleid: vulnsight.javascript.ssrf
app.get('/d', (req, res) => { axios.get(req.query.url); });
// ok: vulnsight.javascript.path-traversal
app.get('/e', (req, res) => { fs.readFile(path.basename(req.query.f), () => {}); });
// ruleid: vulnsight.javascript.command-injection
cp.exec(`git log ${branch}`);
// ok: vulnsight.javascript.command-injection
cp.exec(`git log --oneline`);
// ruleid: vulnsight.javascript.xss-dom-sink
el.innerHTML = `<b>${name}</b>`;
// ok: vulnsight.javascript.xss-dom-sink
el.innerHTML = `<b>static</b>`;
// ruleid: vulnsight.javascript.eval-string-arg
setTimeout('refresh(' + id + ')', 100);
// ruleid: vulnsight.javascript.insecure-random-secret
const apiKey = Math.random().toString(36);
// ok: vulnsight.javascript.insecure-random-secret
const delayMs = Math.random() * 100;
// ok: vulnsight.javascript.open-redirect
app.get('/f', (req, res) => { const n = req.query.next; res.redirect(n.startsWith('/') && !n.startsWith('//') ? n : '/'); });
