"""Finds comparisons BigQuery refuses that the emulator accepts.

The emulator runs on DuckDB, which compares a TIMESTAMP with a DATETIME or a
DATE without a word; BigQuery coerces only a DATE to a DATETIME and refuses
the rest ("No matching signature for operator <"). This reads each compiled
BigQuery statement with SQLGlot (already in the emulator's environment),
gives it the tables' schemas, and reports every comparison, join condition,
BETWEEN, IN and set operation whose two sides are of those types and do not
coerce:

    python check_types.py schema.json compiled/a.sql compiled/b.sql ...

`schema.json` maps project → dataset → table → column → BigQuery type. Prints
one line per refusal and exits 1 if there is any.
"""

import json
import sys

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

T = exp.DataType.Type
KINDS = {
    T.TIMESTAMP: "TIMESTAMP",
    T.TIMESTAMPTZ: "TIMESTAMP",
    T.TIMESTAMPLTZ: "TIMESTAMP",
    T.DATETIME: "DATETIME",
    T.DATE: "DATE",
}
# BigQuery's implicit coercions between these types: a DATE becomes a DATETIME.
# See: https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_rules
COERCE = {frozenset({"DATE", "DATETIME"})}


def kind(node):
    data_type = getattr(node, "type", None)
    return KINDS.get(data_type.this) if data_type is not None else None


def refused(left, right):
    a, b = kind(left), kind(right)
    return a is not None and b is not None and a != b and frozenset({a, b}) not in COERCE


def pairs(statement):
    """Every pair of expressions BigQuery must compare or unify."""
    for node in statement.find_all(exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.NullSafeEQ, exp.NullSafeNEQ):
        yield node, node.left, node.right
    for node in statement.find_all(exp.Between):
        yield node, node.this, node.args.get("low")
        yield node, node.this, node.args.get("high")
    for node in statement.find_all(exp.In):
        for item in node.expressions:
            yield node, node.this, item
    for node in statement.find_all(exp.Union, exp.Intersect, exp.Except):
        left, right = node.left, node.right
        if isinstance(left, exp.Query) and isinstance(right, exp.Query):
            for a, b in zip(left.selects, right.selects):
                yield node, a, b


def check(path, schema):
    text = open(path, encoding="utf-8").read()
    problems = []
    try:
        statements = sqlglot.parse(text, read="bigquery")
    except sqlglot.errors.SqlglotError as err:
        return [f"{path}: could not parse the statement: {str(err).splitlines()[0]}"]
    for statement in statements:
        if statement is None:
            continue
        try:
            statement = annotate_types(qualify(statement, schema=schema, dialect="bigquery"), schema=schema, dialect="bigquery")
        except sqlglot.errors.SqlglotError as err:
            problems.append(f"{path}: could not type the statement: {str(err).splitlines()[0]}")
            continue
        for node, left, right in pairs(statement):
            if left is not None and right is not None and refused(left, right):
                problems.append(
                    f"{path}: `{node.sql('bigquery')}` compares {kind(left)} with {kind(right)}, which BigQuery refuses"
                )
    return problems


def main():
    schema = json.load(open(sys.argv[1], encoding="utf-8"))
    problems = [problem for path in sys.argv[2:] for problem in check(path, schema)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
