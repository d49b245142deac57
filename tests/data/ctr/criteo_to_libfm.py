#!/usr/bin/env python3
"""Converts Criteo data (CSV with the header label,I1..I13,C1..C26, or TSV
without a header as `metaps datagen --kind ctr` writes) to libFM text
with a libFM --meta field file, for launch/jobs/ctr_libfm.pbtxt.

  python3 tests/data/ctr/criteo_to_libfm.py ../shared/data/ctr-samples/criteo_sample.txt \
      tests/data/ctr/criteo_sample 150

writes PREFIX.train.libfm (the first N rows), PREFIX.test.libfm (the rest) and
PREFIX.meta (line i = the field of feature index i). Features: I_k -> one index
per column with value log(1 + x) for x > 0, x otherwise (missing: no feature);
C_k -> one index per distinct (column, token), value 1 (empty: no feature).
Indices are numbered in order of first sight over both splits.
"""
import csv
import math
import sys


def main():
    src, prefix, n_train = sys.argv[1], sys.argv[2], int(sys.argv[3])
    names = ["label"] + ["I%d" % k for k in range(1, 14)] + ["C%d" % k for k in range(1, 27)]
    with open(src, newline="") as f:
        first = f.readline()
        f.seek(0)
        if first.startswith("label,"):
            rows = list(csv.DictReader(f))
        else:  # Criteo TSV without a header (`metaps datagen --kind ctr`)
            rows = [dict(zip(names, line.rstrip("\n").split("\t"))) for line in f]
    index, fields = {}, []

    def feature(field, key):
        if (field, key) not in index:
            index[(field, key)] = len(fields)
            fields.append(field)
        return index[(field, key)]

    lines = []
    for row in rows:
        tokens = [row["label"]]
        for k in range(1, 14):
            v = row["I%d" % k]
            if v != "":
                x = float(v)
                tokens.append("%d:%.6g" % (feature("I%d" % k, ""), math.log1p(x) if x > 0 else x))
        for k in range(1, 27):
            v = row["C%d" % k]
            if v != "":
                tokens.append("%d:1" % feature("C%d" % k, v))
        lines.append(" ".join(tokens) + "\n")
    with open(prefix + ".train.libfm", "w") as out:
        out.writelines(lines[:n_train])
    with open(prefix + ".test.libfm", "w") as out:
        out.writelines(lines[n_train:])
    with open(prefix + ".meta", "w") as out:
        out.writelines(f + "\n" for f in fields)


if __name__ == "__main__":
    main()
