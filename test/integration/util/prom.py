"""
A strict parser of the Prometheus text exposition format 0.0.4 (what `promtool check metrics`
and the Prometheus scraper accept), for tests of /metrics. parse(text) returns
{family: {"type": t, "help": h, "samples": [(name, {label: value}, float)]}} or raises
ValueError naming the offending line.
"""
import math
import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
SAMPLE = re.compile(r"^(%s)(\{(.*)\})? (\S+)( -?[0-9]+)?$" % NAME)
LABEL_PAIR = re.compile(r'(%s)="((?:[^"\\\n]|\\["\\n])*)"(,|$)' % LABEL)


def _value(s, line):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.match(r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$", s):
        raise ValueError("bad value %r: %r" % (s, line))
    return float(s)


def _labels(body, line):
    out, pos = {}, 0
    while pos < len(body):
        m = LABEL_PAIR.match(body, pos)
        if m is None:
            raise ValueError("bad labels: %r" % line)
        if m.group(1) in out:
            raise ValueError("duplicate label %s: %r" % (m.group(1), line))
        out[m.group(1)] = (m.group(2).replace("\\n", "\n").replace('\\"', '"')
                           .replace("\\\\", "\\"))
        pos = m.end()
    return out


def _family(name, fams):
    if name in fams:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[:-len(suffix)] in fams:
            return name[:-len(suffix)]
    return None


def parse(text):
    if not text.endswith("\n"):
        raise ValueError("exposition does not end with a newline")
    fams, order, done, series = {}, [], set(), set()
    current = None
    for line in text.split("\n")[:-1]:
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not re.match("^%s$" % NAME, name):
                    raise ValueError("bad metric name: %r" % line)
                f = fams.setdefault(name, {"type": None, "help": None, "samples": []})
                if name in done or (f["samples"] and current != name):
                    raise ValueError("%s after its samples: %r" % (parts[1], line))
                key = parts[1].lower()
                if f[key] is not None:
                    raise ValueError("second %s for %s" % (parts[1], name))
                if parts[1] == "TYPE":
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise ValueError("bad TYPE: %r" % line)
                    f["type"] = parts[3]
                else:
                    f["help"] = parts[3] if len(parts) == 4 else ""
                if current is not None and current != name:
                    done.add(current)
                current = name
                if name not in order:
                    order.append(name)
            continue
        if line == "":
            raise ValueError("empty line in the exposition")
        m = SAMPLE.match(line)
        if m is None:
            raise ValueError("bad sample line: %r" % line)
        name, labels = m.group(1), _labels(m.group(3) or "", line)
        fam = _family(name, fams)
        if fam is None:
            fam = name
            fams[fam] = {"type": "untyped", "help": None, "samples": []}
            order.append(fam)
        if fam != current:
            if fam in done or fams[fam]["samples"]:
                raise ValueError("samples of %s are not together: %r" % (fam, line))
            if current is not None:
                done.add(current)
            current = fam
        t = fams[fam]["type"]
        if name != fam and t != "histogram" and t != "summary":
            raise ValueError("%s is not a sample name of %s %s" % (name, t, fam))
        if t == "histogram" and name == fam:
            raise ValueError("histogram %s sample without _bucket/_sum/_count" % fam)
        if t == "counter" and not fam.endswith("_total"):
            raise ValueError("counter %s does not end in _total" % fam)
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            raise ValueError("duplicate series: %r" % line)
        series.add(key)
        v = _value(m.group(4), line)
        if t == "counter" and (v < 0 or math.isnan(v)):
            raise ValueError("negative counter: %r" % line)
        fams[fam]["samples"].append((name, labels, v))
    for fam, f in fams.items():
        if f["type"] == "histogram":
            _check_histogram(fam, f["samples"])
    return fams


def _check_histogram(fam, samples):
    groups = {}
    for name, labels, v in samples:
        rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if name.endswith("_bucket"):
            if "le" not in labels:
                raise ValueError("%s bucket without le" % fam)
            g["buckets"].append((_value(labels["le"], labels["le"]), v))
        elif name.endswith("_sum"):
            g["sum"] = v
        else:
            g["count"] = v
    for rest, g in groups.items():
        b = g["buckets"]
        if not b or b[-1][0] != math.inf:
            raise ValueError("%s%s has no +Inf bucket last" % (fam, rest))
        if g["sum"] is None or g["count"] is None:
            raise ValueError("%s%s lacks _sum or _count" % (fam, rest))
        for (le0, c0), (le1, c1) in zip(b, b[1:]):
            if le1 <= le0 or c1 < c0:
                raise ValueError("%s%s buckets not increasing" % (fam, rest))
        if b[-1][1] != g["count"]:
            raise ValueError("%s%s +Inf bucket != _count" % (fam, rest))


def value(fams, name, **labels):
    """The one sample of name whose labels include labels; KeyError if none."""
    fam = _family(name, fams)
    for n, ls, v in (fams[fam]["samples"] if fam else []):
        if n == name and all(ls.get(k) == x for k, x in labels.items()):
            return v
    raise KeyError("%s%r" % (name, labels))
