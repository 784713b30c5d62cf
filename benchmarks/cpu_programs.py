"""Twenty CPU-bound stdin/stdout programs in the style of APPS solutions, with generated tests.

Loops, nested loops, recursion, dictionaries and string building: the code where a line tracer
pays for every iteration. Each test is sized to take tens of milliseconds of CPU, so the
executor's fixed cost per test does not hide the cost of coverage. Expected outputs come from
running each program in this process (they are correct by construction).
"""

from __future__ import annotations

import contextlib
import io
import random
import sys

PROGRAMS: dict[str, str] = {
    "sieve": """
n = int(input())
is_p = [True] * (n + 1)
is_p[0] = is_p[1] = False
i = 2
while i * i <= n:
    if is_p[i]:
        for j in range(i * i, n + 1, i):
            is_p[j] = False
    i += 1
print(sum(1 for x in is_p if x))
""",
    "knapsack": """
n, cap = map(int, input().split())
items = [tuple(map(int, input().split())) for _ in range(n)]
dp = [0] * (cap + 1)
for w, v in items:
    for c in range(cap, w - 1, -1):
        if dp[c - w] + v > dp[c]:
            dp[c] = dp[c - w] + v
print(dp[cap])
""",
    "lis": """
import bisect
n = int(input())
a = list(map(int, input().split()))
tails = []
for x in a:
    k = bisect.bisect_left(tails, x)
    if k == len(tails):
        tails.append(x)
    else:
        tails[k] = x
best = [1] * min(n, 400)
for i in range(len(best)):
    for j in range(i):
        if a[j] < a[i] and best[j] + 1 > best[i]:
            best[i] = best[j] + 1
print(len(tails), max(best))
""",
    "grid_bfs": """
from collections import deque
h, w = map(int, input().split())
g = [input() for _ in range(h)]
dist = [[-1] * w for _ in range(h)]
dist[0][0] = 0
q = deque([(0, 0)])
while q:
    r, c = q.popleft()
    for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        nr, nc = r + dr, c + dc
        if 0 <= nr < h and 0 <= nc < w and g[nr][nc] == '.' and dist[nr][nc] < 0:
            dist[nr][nc] = dist[r][c] + 1
            q.append((nr, nc))
print(dist[h - 1][w - 1])
""",
    "union_find": """
import sys
input = sys.stdin.readline
n, m = map(int, input().split())
parent = list(range(n))
def find(x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x
comps = n
for _ in range(m):
    a, b = map(int, input().split())
    ra, rb = find(a), find(b)
    if ra != rb:
        parent[ra] = rb
        comps -= 1
print(comps)
""",
    "dijkstra": """
import heapq, sys
data = sys.stdin.read().split()
n, m = int(data[0]), int(data[1])
adj = [[] for _ in range(n)]
k = 2
for _ in range(m):
    a, b, w = int(data[k]), int(data[k + 1]), int(data[k + 2])
    k += 3
    adj[a].append((b, w))
    adj[b].append((a, w))
INF = float('inf')
d = [INF] * n
d[0] = 0
pq = [(0, 0)]
while pq:
    du, u = heapq.heappop(pq)
    if du > d[u]:
        continue
    for v, w in adj[u]:
        if du + w < d[v]:
            d[v] = du + w
            heapq.heappush(pq, (d[v], v))
print(sum(x for x in d if x < INF))
""",
    "inversions": """
def sort_count(a):
    if len(a) <= 1:
        return a, 0
    mid = len(a) // 2
    left, x = sort_count(a[:mid])
    right, y = sort_count(a[mid:])
    merged, inv, i, j = [], x + y, 0, 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            inv += len(left) - i
            j += 1
    merged += left[i:] + right[j:]
    return merged, inv
n = int(input())
print(sort_count(list(map(int, input().split())))[1])
""",
    "collatz": """
n = int(input())
best, arg = 0, 1
for s in range(1, n + 1):
    x, steps = s, 0
    while x != 1:
        x = x // 2 if x % 2 == 0 else 3 * x + 1
        steps += 1
    if steps > best:
        best, arg = steps, s
print(arg, best)
""",
    "nqueens": """
n = int(input())
count = 0
def place(row, cols, d1, d2):
    global count
    if row == n:
        count += 1
        return
    for c in range(n):
        if c not in cols and row - c not in d1 and row + c not in d2:
            cols.add(c); d1.add(row - c); d2.add(row + c)
            place(row + 1, cols, d1, d2)
            cols.discard(c); d1.discard(row - c); d2.discard(row + c)
place(0, set(), set(), set())
print(count)
""",
    "edit_distance": """
a = input().strip()
b = input().strip()
prev = list(range(len(b) + 1))
for i in range(1, len(a) + 1):
    cur = [i] + [0] * len(b)
    for j in range(1, len(b) + 1):
        if a[i - 1] == b[j - 1]:
            cur[j] = prev[j - 1]
        else:
            cur[j] = 1 + min(prev[j], cur[j - 1], prev[j - 1])
    prev = cur
print(prev[-1])
""",
    "prefix_queries": """
import sys
input = sys.stdin.readline
n, q = map(int, input().split())
a = list(map(int, input().split()))
pre = [0]
for x in a:
    pre.append(pre[-1] + x)
out = []
for _ in range(q):
    l, r = map(int, input().split())
    out.append(pre[r] - pre[l - 1])
print(sum(out) % 1000000007)
""",
    "two_pointers": """
n, k = map(int, input().split())
a = sorted(map(int, input().split()))
i, j, pairs = 0, n - 1, 0
while i < j:
    if a[i] + a[j] <= k:
        pairs += j - i
        i += 1
    else:
        j -= 1
print(pairs)
""",
    "string_hash": """
s = input().strip()
MOD, B = (1 << 61) - 1, 131
n = len(s)
h = [0] * (n + 1)
p = [1] * (n + 1)
for i, ch in enumerate(s):
    h[i + 1] = (h[i] * B + ord(ch)) % MOD
    p[i + 1] = p[i] * B % MOD
seen = set()
L = 8
for i in range(n - L + 1):
    seen.add((h[i + L] - h[i] * p[L]) % MOD)
print(len(seen))
""",
    "matrix_power": """
n, e = map(int, input().split())
M = [[(i * 7 + j * 3) % 10 for j in range(n)] for i in range(n)]
def mul(A, B):
    return [[sum(A[i][k] * B[k][j] for k in range(n)) % 1000003 for j in range(n)] for i in range(n)]
R = [[int(i == j) for j in range(n)] for i in range(n)]
while e:
    if e & 1:
        R = mul(R, M)
    M = mul(M, M)
    e >>= 1
print(sum(map(sum, R)) % 1000003)
""",
    "word_count": """
import sys
from collections import Counter
words = sys.stdin.read().split()
c = Counter()
for w in words:
    c[w.lower()] += 1
top = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
for w, k in top:
    print(w, k)
""",
    "bit_dp": """
n = int(input())
cost = [list(map(int, input().split())) for _ in range(n)]
INF = 10 ** 9
dp = [INF] * (1 << n)
dp[0] = 0
for mask in range(1 << n):
    if dp[mask] == INF:
        continue
    i = bin(mask).count('1')
    if i == n:
        continue
    for j in range(n):
        if not mask >> j & 1:
            v = dp[mask] + cost[i][j]
            if v < dp[mask | 1 << j]:
                dp[mask | 1 << j] = v
print(dp[(1 << n) - 1])
""",
    "gcd_sum": """
from math import gcd
n = int(input())
total = 0
for i in range(1, n + 1):
    for j in range(i, n + 1, 3):
        total += gcd(i, j)
print(total)
""",
    "palindromes": """
s = input().strip()
n = len(s)
count = 0
for center in range(2 * n - 1):
    l, r = center // 2, center // 2 + center % 2
    while l >= 0 and r < n and s[l] == s[r]:
        count += 1
        l -= 1
        r += 1
print(count)
""",
    "simulation": """
t = int(input())
for _ in range(t):
    n = int(input())
    a = list(map(int, input().split()))
    moves = 0
    while max(a) - min(a) > 1:
        hi = a.index(max(a))
        lo = a.index(min(a))
        a[hi] -= 1
        a[lo] += 1
        moves += 1
    print(moves)
""",
    "class_based": """
class Fenwick:
    def __init__(self, n):
        self.n = n
        self.t = [0] * (n + 1)
    def add(self, i, v):
        while i <= self.n:
            self.t[i] += v
            i += i & -i
    def total(self, i):
        s = 0
        while i > 0:
            s += self.t[i]
            i -= i & -i
        return s
def main():
    n = int(input())
    a = list(map(int, input().split()))
    f = Fenwick(n)
    res = 0
    for k, x in enumerate(a):
        res += k - f.total(x)
        f.add(x, 1)
    print(res)
if __name__ == '__main__':
    main()
""",
}


def _inputs(name: str, rng: random.Random) -> str:
    r = rng.randint
    if name == "sieve":
        return f"{r(150_000, 250_000)}\n"
    if name == "knapsack":
        n, cap = 40, r(1500, 2500)
        return f"{n} {cap}\n" + "".join(f"{r(1, 200)} {r(1, 1000)}\n" for _ in range(n))
    if name in ("lis", "inversions", "class_based"):
        n = 20_000 if name != "lis" else 8000
        if name == "class_based":
            perm = list(range(1, n + 1))
            rng.shuffle(perm)
            return f"{n}\n{' '.join(map(str, perm))}\n"
        return f"{n}\n{' '.join(str(r(1, 10 ** 6)) for _ in range(n))}\n"
    if name == "grid_bfs":
        h = w = 150
        rows = ["".join("#" if rng.random() < 0.2 and (i, j) not in ((0, 0), (h - 1, w - 1)) else "."
                        for j in range(w)) for i in range(h)]
        return f"{h} {w}\n" + "\n".join(rows) + "\n"
    if name == "union_find":
        n, m = 30_000, 40_000
        return f"{n} {m}\n" + "".join(f"{r(0, n - 1)} {r(0, n - 1)}\n" for _ in range(m))
    if name == "dijkstra":
        n, m = 5000, 20_000
        return f"{n} {m}\n" + "".join(f"{r(0, n - 1)} {r(0, n - 1)} {r(1, 100)}\n" for _ in range(m))
    if name == "collatz":
        return f"{r(8000, 12000)}\n"
    if name == "nqueens":
        return "9\n"
    if name == "edit_distance":
        return "".join("".join(rng.choice("abc") for _ in range(300)) + "\n" for _ in range(2))
    if name == "prefix_queries":
        n, q = 20_000, 30_000
        qs = []
        for _ in range(q):
            a, b = sorted((r(1, n), r(1, n)))
            qs.append(f"{a} {b}\n")
        return f"{n} {q}\n{' '.join(str(r(0, 10 ** 9)) for _ in range(n))}\n" + "".join(qs)
    if name == "two_pointers":
        n = 60_000
        return f"{n} {r(10 ** 5, 10 ** 6)}\n{' '.join(str(r(1, 10 ** 6)) for _ in range(n))}\n"
    if name == "string_hash":
        return "".join(rng.choice("ab") for _ in range(60_000)) + "\n"
    if name == "matrix_power":
        return f"30 {r(1000, 5000)}\n"
    if name == "word_count":
        words = [rng.choice(["Alpha", "beta", "GAMMA", "delta", "eps", "zeta", "eta"]) + str(r(0, 30))
                 for _ in range(60_000)]
        return " ".join(words) + "\n"
    if name == "bit_dp":
        n = 13
        return f"{n}\n" + "".join(" ".join(str(r(1, 99)) for _ in range(n)) + "\n" for _ in range(n))
    if name == "gcd_sum":
        return f"{r(1100, 1300)}\n"
    if name == "palindromes":
        return "".join(rng.choice("aab") for _ in range(6000)) + "\n"
    if name == "simulation":
        cases = [f"30\n{' '.join(str(r(0, 80)) for _ in range(30))}\n" for _ in range(20)]
        return f"{len(cases)}\n" + "".join(cases)
    raise KeyError(name)


def reference_output(program: str, stdin: str) -> str:
    """Run ``program`` in this process on ``stdin`` and return what it prints."""
    out = io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(program, "<reference>", "exec"), {"__name__": "__main__"})
    finally:
        sys.stdin = old_stdin
    return out.getvalue()


def cpu_bound_problems(n_tests: int = 2, seed: int = 0) -> list[tuple[str, str, list[str], list[str]]]:
    """[(name, program, inputs, expected outputs)] for every program, ``n_tests`` tests each."""
    rng = random.Random(seed)
    problems = []
    for name, program in PROGRAMS.items():
        program = program.lstrip("\n")
        inputs = [_inputs(name, rng) for _ in range(n_tests)]
        problems.append((name, program, inputs, [reference_output(program, x) for x in inputs]))
    return problems
