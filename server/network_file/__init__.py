"""Network files: a whole network (nodes, catalogue, stock counts, carrier rates and services, node
calendars) as one JSON document.

The format is described field by field in docs/network-file.md. Loading checks
everything and reports every problem at once, each under the JSON path where it
was found (``nodes[3].lat: must be between -90 and 90``), so whoever fixes a
file fixes it in one pass.

The package is split by section: ``document`` (the file as a whole and its entry points),
``fields`` (typed reading with paths), ``nodes`` (nodes, items, stock), ``promise_data``
(calendars, schedules, rates, carrier services) and ``records`` (one node, item or count at a
time, for imports). Names with a leading underscore are private to
the package; callers use the names below.
"""

from server.network_file.document import (
    FORMAT,
    NetworkFile,
    NetworkFileError,
    parse_network,
    parse_network_json,
    read_network_file,
)
from server.network_file.fields import ROOT, Problem
from server.network_file.records import count_from_record, item_from_record, node_from_record

__all__ = [
    "FORMAT",
    "ROOT",
    "NetworkFile",
    "NetworkFileError",
    "Problem",
    "count_from_record",
    "item_from_record",
    "node_from_record",
    "parse_network",
    "parse_network_json",
    "read_network_file",
]
