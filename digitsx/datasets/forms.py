"""What any task's dataset form gives when it is valid (:class:`DatasetForm`): the shared
create route (:func:`digitsx.datasets.routes.create_dataset`) makes the job from it."""
from __future__ import annotations

from dataclasses import dataclass, field

from werkzeug.datastructures import FileStorage


@dataclass
class DatasetForm:
    """What a valid form gives: the job's name and group, its spec, and files to save."""

    name: str
    group: str
    spec: dict
    uploads: dict[str, FileStorage | bytes] = field(default_factory=dict)
