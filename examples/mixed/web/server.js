const express = require('express');
const { exec, execFile } = require('child_process');
const fs = require('fs');
const path = require('path');
const mysql = require('mysql');

const app = express();
const db = mysql.createConnection({ host: 'localhost', user: 'app', database: 'shop' });

function productQuery(id) {
  return db.query('SELECT * FROM products WHERE id = ' + id);
}

function productQuerySafe(id) {
  return db.query('SELECT * FROM products WHERE id = ?', [id]);
}

app.get('/product', (req, res) => {
  productQuery(req.query.id);
  res.send('ok');
});

app.get('/convert', (req, res) => {
  exec('convert ' + req.query.file + ' out.png', (err, stdout) => {
    res.send(stdout);
  });
});

app.get('/convert-safe', (req, res) => {
  execFile('convert', [req.query.file, 'out.png'], (err, stdout) => res.send(stdout));
});

app.get('/file', (req, res) => {
  fs.readFile(path.join(__dirname, 'public', req.query.name), (err, data) => res.send(data));
});

app.get('/calc', (req, res) => {
  res.send(String(eval(req.query.expr)));
});

function formatPrice(cents) {
  return (cents / 100).toFixed(2);
}

module.exports = { app, formatPrice };
