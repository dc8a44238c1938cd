"""Command line for the heating simulator: serve it, or regenerate the files made from its map.

python -m drivers.sim [--host 127.0.0.1] [--base-port 15020] [--speed 60] [--seed 1]
python -m drivers.sim --write-generated    # docs/*.md and resources/demo/ made from the maps
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from drivers.sim.gasgate_docs import gas_station_markdown, mqtt_meters_markdown
from drivers.sim.mapfiles import demo_devices_toml
from drivers.sim.mapfiles_gas import demo_gas_tags_toml, demo_meter_tags_toml
from drivers.sim.registers import DEMO_BASE_PORT, demo_tags_toml, register_map_markdown
from drivers.sim.serve import endpoints_for, run

ROOT = Path(__file__).resolve().parents[2]
GENERATED = {
    "docs/register-map.md": register_map_markdown,
    "resources/demo/tags.toml": demo_tags_toml,
    "resources/demo/devices.toml": demo_devices_toml,
    "resources/demo/tags/gasgate.toml": demo_gas_tags_toml,
    "resources/demo/tags/meters.toml": demo_meter_tags_toml,
    "docs/gas-station.md": gas_station_markdown,
    "docs/mqtt-meters.md": mqtt_meters_markdown,
}


def write_generated(root: Path = ROOT) -> list[Path]:
    """Write every file generated from the register map under `root`; return their paths."""
    written = []
    for relative, make in GENERATED.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make(), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m drivers.sim`."""
    parser = argparse.ArgumentParser(
        prog="python -m drivers.sim",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--base-port",
        type=int,
        default=DEMO_BASE_PORT,
        help="HS1 listens here, SS1..SS4 on the next ports",
    )
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--step", type=float, default=0.2, help="real seconds between steps")
    parser.add_argument(
        "--write-generated",
        action="store_true",
        help="regenerate the point map docs and the demo project files",
    )
    args = parser.parse_args(argv)
    if args.write_generated:
        for path in write_generated():
            print(f"wrote {path.relative_to(ROOT)}")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    endpoints = endpoints_for(args.base_port, args.host)
    for station, (host, port) in endpoints.items():
        logging.info("%s on %s:%d", station, host, port)
    run(endpoints, speed=args.speed, seed=args.seed, step=args.step)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
