"""An output file's usage, counted when it is read through the gateway.

Output files are relayed chunk by chunk (:meth:`turnout.batches.accounting.Tally.relay`:
at most one line held, :data:`~turnout.batches.accounting.MAX_LINE` bytes). Each line whose
``response.status_code`` is 200 adds its ``response.body.usage`` to its model's total
(the body's ``model`` is the upstream name; the record maps it back to the public one). When
the relay ends, however it ends, one request-log row per model (operation ``batches.usage``,
protocol ``openai``) carries the sums, priced at the batch share of the model's price
(:data:`turnout.pricing.BATCH_SHARE`), and settles the key's budgets on a ticket put through
the limiter as the relay starts (:func:`turnout.batches.accounting.counted`). An output file
does not change, so a read counts only the lines past the record's mark, and only those it
claims by moving the mark with a compare-and-set (:meth:`ObjectStore.claim`): reads at the
same time, on one replica or several, count each line once between them, and reading it
again costs nothing more. An error file's lines carry no usage and count nothing.
"""

from __future__ import annotations

from typing import Any

from turnout.batches.accounting import Tally
from turnout.protocols.openai.usage import parse
from turnout.types import Usage


class OutputTally(Tally):
    """What one output-file read relays and counts: Message Batches' tally, with OpenAI's
    line shape."""

    def read(self, data: Any) -> tuple[object, Usage] | None:
        """``response.body.usage`` of a line answered 200."""
        response = data["response"]
        if response is None or response.get("status_code") != 200:
            return None
        body = response["body"]
        usage = parse(body.get("usage"))
        return None if usage is None else (body.get("model"), usage)
