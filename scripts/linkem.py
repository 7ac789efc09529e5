#!/usr/bin/env python3
"""A link emulator for the netns testnet: delay, jitter and loss on one link.

What `tc qdisc … netem` does, for kernels built without sch_netem (as on the
project's machines). scripts/testnet.js runs it in the switch namespace
between a host's veth end (HOST_PORT, taken off the bridge) and a new veth
whose peer is the host's bridge port (BRIDGE_PORT): every Ethernet frame is
copied across by raw AF_PACKET sockets. Frames from the host (its outgoing
direction, as netem on its interface) are delayed and dropped as asked; frames
towards it pass untouched. The host keeps its interface, address and MAC, so
its open connections survive.

  linkem.py HOST_PORT BRIDGE_PORT [--delay MS] [--jitter MS] [--loss PCT]
"""
import argparse
import heapq
import random
import select
import socket
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
MAX_FRAME = 65536


def open_port(name):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((name, 0))
    return sock


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('host_port')
    parser.add_argument('bridge_port')
    parser.add_argument('--delay', type=float, default=0.0)
    parser.add_argument('--jitter', type=float, default=0.0)
    parser.add_argument('--loss', type=float, default=0.0)
    args = parser.parse_args()

    host = open_port(args.host_port)
    bridge = open_port(args.bridge_port)
    delay = args.delay / 1000.0
    jitter = args.jitter / 1000.0
    loss = args.loss / 100.0

    # frames from the host wait here until their departure time
    pending = []
    lock = threading.Condition()
    seq = 0

    def sender():
        while True:
            with lock:
                while not pending:
                    lock.wait()
                due, _, frame = pending[0]
                now = time.monotonic()
                if due > now:
                    lock.wait(due - now)
                    continue
                heapq.heappop(pending)
            try:
                bridge.send(frame)
            except OSError:
                pass

    threading.Thread(target=sender, daemon=True).start()

    while True:
        readable, _, _ = select.select([host, bridge], [], [])
        for sock in readable:
            frame, addr = sock.recvfrom(MAX_FRAME)
            if addr[2] == PACKET_OUTGOING:
                # our own copy of a frame we sent on this port
                continue
            if sock is bridge:
                try:
                    host.send(frame)
                except OSError:
                    pass
                continue
            if loss > 0 and random.random() < loss:
                continue
            if delay <= 0 and jitter <= 0:
                try:
                    bridge.send(frame)
                except OSError:
                    pass
                continue
            due = time.monotonic() + max(0.0, delay + random.uniform(-jitter, jitter))
            with lock:
                seq += 1
                heapq.heappush(pending, (due, seq, frame))
                lock.notify()


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        pass
