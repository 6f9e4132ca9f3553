"""The language server: scans on open and save, rules at once and the model behind.

Each scan is tagged with the document's version. A result is published only while its
version is still the document's newest (an edit made while the model was thinking
makes the older answer stale, and it is dropped), and a model result replaces the rules
result of the same version, never the other way round.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from vulnsight import __version__
from vulnsight.errors import VulnsightError
from vulnsight.llm.interface import Backend
from vulnsight.lsp.diagnostics import (
    EXPLAIN_COMMAND,
    SOURCE,
    explain_action,
    suppression_action,
    to_diagnostic,
)
from vulnsight.lsp.scanning import LspSettings, Snapshot, Target, scan_snapshot, target
from vulnsight.types import Report

log = logging.getLogger(__name__)

RULES, MODEL = 0, 1  # result kinds; a model result includes the rule hits, merged


@dataclass(frozen=True)
class Published:
    """What a document's diagnostics came from."""

    version: int
    kind: int
    diagnostics: tuple[types.Diagnostic, ...]


class VulnsightServer(LanguageServer):
    """pygls server holding the open documents' versions, one warm model and two
    single-thread pools (rules; model), so a slow model never delays rule hits."""

    def __init__(self, settings: LspSettings, backend: Backend | None = None) -> None:
        super().__init__("vulnsight", __version__)
        self.settings = settings
        self._given = backend  # tests inject a model; else one warm model per spec
        self._models: dict[str | None, Backend] = {}
        self._model_busy = threading.Event()
        self._latest: dict[str, int] = {}
        self._published: dict[str, Published] = {}
        self._rules_pool = ThreadPoolExecutor(1, thread_name_prefix="vulnsight-rules")
        self._model_pool = ThreadPoolExecutor(1, thread_name_prefix="vulnsight-model")
        self._tasks: set[asyncio.Task[None]] = set()

    # -- document versions -------------------------------------------------------------

    def track(self, uri: str, version: int | None) -> None:
        """Note the newest version of a document (open or change)."""
        self._latest[uri] = version if version is not None else self._latest.get(uri, 0)

    def forget(self, uri: str) -> None:
        """A closed document: drop its state and clear its diagnostics."""
        self._latest.pop(uri, None)
        self._published.pop(uri, None)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
        )

    def is_current(self, uri: str, version: int) -> bool:
        """Whether `version` is still the newest version of an open document."""
        return self._latest.get(uri) == version

    def published(self, uri: str) -> Published | None:
        """The diagnostics last published for a document."""
        return self._published.get(uri)

    # -- scanning ----------------------------------------------------------------------

    def snapshot(self, uri: str) -> Snapshot:
        """The document as it is now."""
        doc = self.workspace.get_text_document(uri)
        version = doc.version if doc.version is not None else self._latest.get(uri, 0)
        path = Path(doc.path) if uri.startswith("file:") else None
        return Snapshot(uri, version, doc.source, path, doc.language_id or "")

    def schedule(self, uri: str) -> None:
        """Scan the document's current text: rules first, then the model."""
        snap = self.snapshot(uri)
        self.track(uri, snap.version)
        task = asyncio.ensure_future(self._scan(snap))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _model_backend(self, where: Target) -> Backend:
        """The warm model for a project's model spec (loaded on first use, kept)."""
        if self._given is not None:
            return self._given
        spec = where.config.model
        if spec not in self._models:
            from vulnsight.review.lazy import LazyBackend

            self._models[spec] = LazyBackend(spec)
        return self._models[spec]

    def _scan_rules(self, snap: Snapshot, where: Target) -> Report | None:
        if not self.is_current(snap.uri, snap.version):
            return None
        return scan_snapshot(snap, where, ("rules",), None, self.settings.use_cache)

    def _scan_model(self, snap: Snapshot, where: Target) -> Report | None:
        if not self.is_current(snap.uri, snap.version):
            return None  # edited since: a newer scan is queued behind this one
        self._model_busy.set()
        try:
            backend = self._model_backend(where)
            return scan_snapshot(snap, where, ("rules", "llm"), backend, self.settings.use_cache)
        finally:
            self._model_busy.clear()

    async def _scan(self, snap: Snapshot) -> None:
        loop = asyncio.get_running_loop()
        try:
            where = target(snap, self.settings)
        except VulnsightError as exc:
            self._tell(types.MessageType.Error, f"vulnsight: {exc}")
            return
        if where is None:
            return
        try:
            if "rules" in where.config.detectors:
                report = await loop.run_in_executor(self._rules_pool, self._scan_rules, snap, where)
                self.publish(snap, report, RULES)
            if "llm" in where.config.detectors:
                report = await loop.run_in_executor(self._model_pool, self._scan_model, snap, where)
                self.publish(snap, report, MODEL)
        except VulnsightError as exc:
            self._tell(types.MessageType.Error, f"vulnsight: {exc}")
        except Exception as exc:  # noqa: BLE001 - one failed scan must not end the server
            log.exception("scan of %s failed", snap.uri)
            self._tell(types.MessageType.Error, f"vulnsight: scan failed: {exc}")

    def publish(self, snap: Snapshot, report: Report | None, kind: int) -> bool:
        """Publish a scan's diagnostics unless a newer version or a better result of the
        same version was published (or the document was closed). Returns whether sent."""
        if report is None or not self.is_current(snap.uri, snap.version):
            return False
        before = self._published.get(snap.uri)
        if before is not None and (before.version, before.kind) > (snap.version, kind):
            return False
        lines = snap.text.splitlines()
        doc = self.workspace.get_text_document(snap.uri)
        units = doc.position_codec.client_num_units
        diagnostics = tuple(
            to_diagnostic(f, lines, units) for f in report.findings if not f.suppressed
        )
        self._published[snap.uri] = Published(snap.version, kind, diagnostics)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=snap.uri, version=snap.version, diagnostics=list(diagnostics)
            )
        )
        source = "rules" if kind == RULES else "rules and model"
        notes = [f"{snap.uri} v{snap.version}: {len(diagnostics)} diagnostic(s) from {source}"]
        notes += [f"{err.file}: {err.reason}" for err in report.errors]
        for note in notes:
            self.window_log_message(types.LogMessageParams(types.MessageType.Log, note))
        return True

    def _tell(self, level: types.MessageType, text: str) -> None:
        self.window_show_message(types.ShowMessageParams(type=level, message=text))

    @property
    def judging(self) -> bool:
        """Whether a model scan is running now."""
        return self._model_busy.is_set()

    def close(self) -> None:
        """Stop the workers and release the models (unless one is still judging: the
        process is about to end and frees it then)."""
        self._rules_pool.shutdown(wait=False, cancel_futures=True)
        self._model_pool.shutdown(wait=False, cancel_futures=True)
        if self._model_busy.is_set():
            return
        for model in self._models.values():
            model.close()
        self._models.clear()


def create_server(settings: LspSettings, backend: Backend | None = None) -> VulnsightServer:
    """A vulnsight language server with its handlers registered (not yet started)."""
    server = VulnsightServer(settings, backend)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: VulnsightServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: VulnsightServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.track(params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    async def did_save(ls: VulnsightServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: VulnsightServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.Empty]
        ),
    )
    def code_action(ls: VulnsightServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        return code_actions(ls, params.text_document.uri, params.context.diagnostics)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: VulnsightServer, params: types.HoverParams) -> types.Hover | None:
        shown = ls.published(params.text_document.uri)
        line = params.position.line
        texts = [
            str(d.data["explanation"])
            for d in (shown.diagnostics if shown else ())
            if d.range.start.line == line and isinstance(d.data, dict)
        ]
        if not texts:
            return None
        value = "\n\n---\n\n".join(texts)
        return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, value))

    @server.command(EXPLAIN_COMMAND)
    def explain(ls: VulnsightServer, *args: Any) -> None:
        text = "\n".join(str(a) for a in args) or "no explanation given"
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Info, text))

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: VulnsightServer, *args: Any) -> None:
        ls.close()

    return server


def code_actions(
    ls: VulnsightServer, uri: str, diagnostics: Sequence[types.Diagnostic]
) -> list[types.CodeAction]:
    """Quick fixes for vulnsight's diagnostics: suppress with a reason; explain."""
    from vulnsight.languages import language_of
    from vulnsight.lsp.scanning import LANGUAGE_IDS

    snap = ls.snapshot(uri)
    language = (language_of(snap.path) if snap.path is not None else None) or LANGUAGE_IDS.get(
        snap.language_id, ""
    )
    lines = snap.text.splitlines()
    actions: list[types.CodeAction] = []
    for d in diagnostics:
        if d.source != SOURCE or d.code is None:
            continue
        actions.append(suppression_action(uri, d, lines, language))
        explained = explain_action(d)
        if explained is not None:
            actions.append(explained)
    return actions
