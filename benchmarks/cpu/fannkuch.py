"""Fannkuch-redux: counting pancake flips over all permutations."""

import time


def fannkuch(n):
    count = list(range(1, n + 1))
    max_flips = 0
    r = n
    perm1 = list(range(n))
    checksum = 0
    permutations = 0
    while True:
        while r != 1:
            count[r - 1] = r
            r -= 1
        perm = perm1[:]
        flips = 0
        k = perm[0]
        while k:
            perm[: k + 1] = perm[k::-1]
            flips += 1
            k = perm[0]
        max_flips = max(max_flips, flips)
        checksum += flips if permutations % 2 == 0 else -flips
        while r != n:
            perm1.insert(r, perm1.pop(0))
            count[r] -= 1
            if count[r] > 0:
                break
            r += 1
        else:
            return max_flips, checksum
        permutations += 1


start = time.perf_counter()
assert fannkuch(9) == (30, 8629)
print(time.perf_counter() - start)
