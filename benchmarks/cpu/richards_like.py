"""Object-heavy work: a small task scheduler with classes, attributes and method calls."""

import time


class Packet:
    __slots__ = ("count", "ident", "kind", "link")

    def __init__(self, link, ident, kind):
        self.link, self.ident, self.kind, self.count = link, ident, kind, 0


class Task:
    def __init__(self, ident, priority):
        self.ident, self.priority, self.queue, self.done = ident, priority, [], 0

    def run(self, scheduler):
        while self.queue:
            packet = self.queue.pop()
            packet.count += 1
            self.done += 1
            if packet.count < 8:
                scheduler.send(packet, (self.ident + packet.count) % len(scheduler.tasks))


class Scheduler:
    def __init__(self, n):
        self.tasks = [Task(i, i % 5) for i in range(n)]

    def send(self, packet, to):
        self.tasks[to].queue.append(packet)

    def loop(self):
        busy = True
        while busy:
            busy = False
            for task in sorted(self.tasks, key=lambda t: t.priority):
                if task.queue:
                    busy = True
                    task.run(self)


def main():
    start = time.perf_counter()
    for _ in range(40):
        s = Scheduler(50)
        for i in range(2000):
            s.send(Packet(None, i, i % 3), i % 50)
        s.loop()
        assert sum(t.done for t in s.tasks) == 16000
    return time.perf_counter() - start


print(main())
