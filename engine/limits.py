"""Named bounds on every input, in one place. Breaking one is INVALID_ARGUMENT naming the field."""

MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 512
MAX_TAGS = 32
MAX_ATTRIBUTES = 64
MAX_LINES_PER_ORDER = 200
MAX_ORDERS_PER_BATCH = 100  # one joint model; a larger backlog goes in several batches
# ReoptimizePending: prices coordinate the orders (engine/optimizer/prices.py), no model of them all
# is built; 10,000 on a 500-node network is measured in benchmarks/batch_bench.py.
MAX_ORDERS_PER_REOPTIMIZE = 10_000
MAX_QTY_PER_LINE = 100_000
MAX_ORDER_PRIORITY = 1_000
MAX_UNIT_WEIGHT_LB = 2_000.0
MAX_MONEY = 1_000_000.0  # per cost parameter, in major currency units
MAX_INVENTORY_COUNT = 1_000_000_000
MAX_NODES_PER_CALL = 5_000
MAX_ITEMS_PER_CALL = 5_000
MAX_INVENTORY_UPDATES_PER_CALL = 10_000
MAX_AVAILABILITY_SKUS = 1_000
MAX_PAGE_SIZE = 1_000
# Carrier rate tables: real zone charts have 8-12 zones; 32 leaves room without inviting a typo'd 10,000.
MAX_RATE_ZONES = 32
MAX_SERVICE_LEVELS = 32  # rate tables per network
MAX_ZONE_LIMIT_MILES = 12_500.0  # about half the Earth's circumference: no two points are further apart
DEFAULT_PAGE_SIZE = 200

# Delivery promise data (docs/promise.md, docs/network-file.md): calendars stay finite and searches short.
MAX_CARRIER_SERVICES = 64  # per network
MAX_HOLIDAYS = 1_000  # dates per node or carrier service (a decade of daily closures is already absurd)
MAX_HOLIDAY_CALENDARS = 64  # named holiday lists in one network file
FIRST_CALENDAR_YEAR = 2000  # holidays and promised dates lie within these years
LAST_CALENDAR_YEAR = 2100
MAX_TRANSIT_DAYS = 30  # business days of one carrier service to one zone
MAX_PROCESSING_DAYS = 30  # working days a node needs before a shipment can leave
MAX_PICKUP_READY_MINUTES = 7 * 24 * 60  # opening minutes before a pickup order is ready
MAX_REMOTE_AREA_ZIP3 = 1_000  # every three-digit ZIP prefix there is
MAX_DIM_DIVISOR = 100_000.0  # cubic inches per billed pound; carriers use 139-250
MAX_CART_LINES = 100  # Promise: lines of one cart (a checkout's, not a bulk order's)
MAX_PRODUCT_SKUS = 100  # PromiseProducts: SKUs of one product page or listing
MAX_PROMISE_AHEAD_DAYS = 366  # Promise's `at`: at most this far from now, either way

# Planner rule files (docs/rules.md, "Limits"): checked while reading, so no file can hold a worker.
# A set at every bound validates and compiles in about a second; see the table in docs/rules.md.
MAX_RULE_FILES = 50  # files in one rule set
MAX_RULE_FILE_BYTES = 1024 * 1024  # one file, UTF-8
MAX_RULE_SET_BYTES = 2 * 1024 * 1024  # all files of one set together
MAX_RULE_FILE_NAME = 128  # characters of a file's name (its pattern: docs/rules.md)
MAX_RULE_DEPTH = 32  # nested mappings and lists; the rule format needs about 12
MAX_RULE_SET_VALUES = 100_000  # YAML values in a set, an alias counting the values it repeats
MAX_RULES = 1_000  # rules in one set
MAX_RULE_CONDITIONS = 64  # conditions of one rule (scope, when and active together)
MAX_RULE_TESTS = 15_000  # tests the set compiles to in durable-rules (about 15 µs each to register)
MAX_RULE_ERRORS = 100  # mistakes listed for one set; the rest are counted

# Network files (docs/network-file.md): 60 MiB, about a million stock rows, takes ~750 MB and ~9 s to read.
MAX_NETWORK_FILE_BYTES = 128 * 1024 * 1024
