"""The Python peer of the telemetry-processor's handler, timed as Lambda runs it.

The same Lambda Kinesis event file the Rust bench reads (`cargo bench -p
burnbar-pipeline --bench handler`), through Powertools for AWS Lambda's
`BatchProcessor` (Kinesis Data Streams, partial batch responses): each record's data
decoded and split into lines, each line parsed and checked (version, car, integer
time), and each car's fuel integrated in 5 s windows of event time from its held
channels (1 s hold) with the physics model's fuel flow (`PackageParams::fuel_gph`, the
670 hp package's default parameters), state in memory. A window closes when a later
sample of its car arrives past its end, and becomes an update.

What a round times is what a Python Lambda does per invocation: `json.loads` of the
Runtime API body plus the handler. Each round starts from empty state.

Usage: python bench_python_peer.py EVENT.json [ROUNDS]   (prints the median in ms)
"""

import json
import statistics
import sys
import time

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

WINDOW_MS = 5_000
HOLD_MS = 1_000
# PackageParams for the 670 hp package (shared/core/src/model.rs) and the fallbacks.
WOT_GPH_PER_KRPM = 5.94
THROTTLE_K = 1.73
VE_PEAK_RPM = 6580.0
VE_DROOP = 0.0117
DEFAULT_THROTTLE = 0.7
DEFAULT_RPM = 8000.0
RPM_PER_MPH = 50.0


def fuel_gph(throttle_pct, rpm, speed_mph):
    if throttle_pct is None and rpm is None and speed_mph is None:
        return 0.0
    theta = throttle_pct / 100.0 if throttle_pct is not None else DEFAULT_THROTTLE
    theta = min(max(theta, 0.0), 1.0)
    if rpm is None:
        rpm = speed_mph * RPM_PER_MPH if speed_mph is not None else DEFAULT_RPM
    k = (rpm - VE_PEAK_RPM) / 1000.0
    ve = min(max(1.0 - VE_DROOP * k * k, 0.5), 1.0)
    air = 1.0 - (1.0 - theta) ** THROTTLE_K
    return WOT_GPH_PER_KRPM * (max(rpm, 0.0) / 1000.0) * ve * air


class Car:
    __slots__ = ("ts", "thr", "thr_ts", "rpm", "rpm_ts", "spd", "spd_ts",
                 "window", "fuel", "samples")

    def __init__(self, ts):
        self.ts = ts
        self.thr = self.rpm = self.spd = None
        self.thr_ts = self.rpm_ts = self.spd_ts = ts
        self.window = ts - ts % WINDOW_MS
        self.fuel = 0.0
        self.samples = 0


def held(value, at, now):
    return value if value is not None and now - at <= HOLD_MS else None


class Peer:
    def __init__(self):
        self.cars = {}
        self.updates = []

    def sample(self, line):
        s = json.loads(line)
        if not isinstance(s, dict) or s.get("v") != 1:
            raise ValueError("unsupported version")
        car = s.get("car")
        ts = s.get("ts")
        if not isinstance(car, str) or not isinstance(ts, int) or isinstance(ts, bool):
            raise ValueError("missing or wrong car/ts")
        race = s.get("race_id")
        st = self.cars.get((race, car))
        if st is None:
            st = self.cars[(race, car)] = Car(ts)
        if ts < st.ts:
            return  # late: the window already integrated past it
        # Integrate from the last sample to this one at the held operating point,
        # split at window edges.
        t = st.ts
        while t < ts:
            edge = st.window + WINDOW_MS
            end = min(ts, edge)
            gph = fuel_gph(held(st.thr, st.thr_ts, t), held(st.rpm, st.rpm_ts, t),
                           held(st.spd, st.spd_ts, t))
            st.fuel += gph * (end - t) / 3_600_000.0
            t = end
            if t == edge:
                self.updates.append({"race_id": race, "car": car,
                                     "window_start": st.window, "window_end": edge,
                                     "fuel_used_gal": st.fuel, "samples": st.samples})
                st.window, st.fuel, st.samples = edge, 0.0, 0
        st.ts = ts
        st.samples += 1
        v = s.get("throttle_pct")
        if v is not None:
            st.thr, st.thr_ts = float(v), ts
        v = s.get("rpm")
        if v is not None:
            st.rpm, st.rpm_ts = float(v), ts
        v = s.get("speed_mph")
        if v is not None:
            st.spd, st.spd_ts = float(v), ts


class Context:
    function_name = "telemetry-processor-python"
    aws_request_id = "bench"


def main():
    path = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 21
    with open(path, "rb") as f:
        body = f.read()
    times, updates = [], 0
    for _ in range(rounds):
        peer = Peer()
        processor = BatchProcessor(event_type=EventType.KinesisDataStreams)

        def record_handler(record):
            for line in record.kinesis.data_as_bytes().split(b"\n"):
                if line.strip():
                    peer.sample(line)

        t = time.perf_counter()
        event = json.loads(body)
        response = process_partial_response(event=event, record_handler=record_handler,
                                            processor=processor, context=Context())
        times.append(time.perf_counter() - t)
        if response["batchItemFailures"]:
            raise SystemExit(f"records failed: {response['batchItemFailures'][:3]}")
        updates = len(peer.updates)
    print(f"python peer: {len(event['Records'])} records, {updates} updates, "
          f"{rounds} rounds, median {statistics.median(times) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
