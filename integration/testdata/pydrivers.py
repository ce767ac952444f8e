"""Runs what a Python app does through PyMySQL and mysqlclient (MySQLdb) and prints what the
drivers report, one JSON object per line, for the Go test to compare between a direct connection
and the proxy. Usage: pydrivers.py HOST PORT USER PASSWORD DB"""
import json
import sys

import MySQLdb
import pymysql

host, port, user, password, db = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]


def report(driver, step, value):
    print(json.dumps({"driver": driver, "step": step, "value": value}), flush=True)


def session(driver, conn):
    # Both connect with autocommit off and answer get_autocommit() from the status flags of the
    # last OK packet.
    report(driver, "autocommit after connect", conn.get_autocommit())
    cur = conn.cursor()
    cur.execute("CREATE TABLE IF NOT EXISTS py_t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
    cur.execute("INSERT INTO py_t (v) VALUES (1)")
    report(driver, "autocommit in a transaction", conn.get_autocommit())
    conn.commit()
    report(driver, "autocommit after commit", conn.get_autocommit())
    cur.execute("SELECT @@in_transaction, @@autocommit")
    report(driver, "in_transaction, autocommit", list(cur.fetchone()))
    conn.rollback()
    conn.autocommit(True)
    report(driver, "autocommit after autocommit(True)", conn.get_autocommit())
    cur.execute("SELECT @@autocommit")
    report(driver, "@@autocommit", list(cur.fetchone()))
    # A statement over the server's limit (the proxy's in the test): the error, not a broken
    # packet sequence.
    try:
        cur.execute("SELECT LENGTH('" + "x" * (17 << 20) + "')")
        report(driver, "oversized statement", "no error")
    except (pymysql.err.OperationalError, pymysql.err.InternalError, MySQLdb.OperationalError) as e:
        report(driver, "oversized statement", e.args[0])
    except Exception as e:  # noqa: BLE001 -- the point is to see which error a driver raises
        report(driver, "oversized statement", type(e).__name__ + ": " + str(e)[:80])


session("pymysql", pymysql.connect(host=host, port=port, user=user, password=password, database=db,
                                   autocommit=False, max_allowed_packet=64 << 20))
session("mysqlclient", MySQLdb.connect(host=host, port=port, user=user, password=password, database=db,
                                       autocommit=False))
