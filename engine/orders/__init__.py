"""The order model: records (``records``), states and transitions (``lifecycle``), the
arithmetic of each transition as a change to apply (``changes``), and which holds give way
when stock runs short (``shortfall``). Pure: the store reads and writes, this decides."""
