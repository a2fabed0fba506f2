"""One order, start to certificate: the async flow over a blocking :class:`AcmeSession`.

Every blocking step runs in a worker thread; publishing challenges (the router's token
table, a DNS provider) happens on the event loop. Polling follows the server's
Retry-After when it gives one, otherwise starts at 50 ms and grows to 2 s, all within
``timeout``. Published challenges are withdrawn whatever happens, cancellation included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pymodular.modules.acme._certs import (
    CertificateBundle,
    KeyType,
    generate_key,
    make_csr,
    parse_bundle,
)
from pymodular.modules.acme._challenges import challenge_type
from pymodular.modules.acme._client import AcmeSession, translate
from pymodular.modules.acme.errors import AcmeOrderError, ChallengeError

if TYPE_CHECKING:
    from acme import messages

    from pymodular.modules.acme._challenges import ChallengeSolver

__all__ = ("obtain",)

Emit = Callable[..., Any]
_FIRST_POLL = 0.05
_LONGEST_POLL = 2.0


async def obtain(
    session: AcmeSession,
    domains: list[str],
    solver: ChallengeSolver,
    *,
    key_type: KeyType,
    timeout: float,
    emit: Emit,
) -> CertificateBundle:
    """Order a certificate for ``domains`` and return it with its new private key.

    Raises the module's errors (:class:`ChallengeError`, :class:`AcmeOrderError` and its
    subclasses); the session must be open.
    """
    domain = domains[0]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        async with asyncio.timeout(timeout):
            key_pem = await asyncio.to_thread(generate_key, key_type)
            csr = make_csr(key_pem, domains)
            order = await asyncio.to_thread(session.new_order, csr)
            emit("acme.order.created", domain=domain, names=domains)
            published: list[tuple[str, messages.ChallengeBody]] = []
            try:
                pending = []
                for authorization in order.authorizations:
                    if authorization.body.status.name == "valid":
                        continue
                    name = authorization.body.identifier.value
                    if authorization.body.wildcard:
                        name = f"*.{name}"
                    challenge = _challenge_of(authorization, solver.kind, name)
                    response = await solver.publish(name, challenge, session.key)
                    published.append((name, challenge))
                    emit("acme.challenge.published", domain=name, challenge=solver.kind)
                    await asyncio.to_thread(session.answer, challenge, response)
                    pending.append(authorization)
                for authorization in pending:
                    await _until_valid(session, authorization, solver.kind, deadline)
            finally:
                for name, challenge in published:
                    await _withdraw(solver, name, challenge, session)
            emit("acme.authorization.valid", domain=domain, names=domains)
            order = await _finalize(session, order, deadline)
            url = order.body.certificate
            if not url:
                raise AcmeOrderError("the order is valid but names no certificate", domain=domain)
            chain = await asyncio.to_thread(session.download, url)
    except TimeoutError:
        raise AcmeOrderError(
            f"the order for {domain} did not complete within {timeout:g} s", domain=domain
        ) from None
    except (AcmeOrderError, asyncio.CancelledError):
        raise
    except Exception as exc:  # noqa: BLE001 - translated into the module's error tree
        raise translate(exc, domain=domain, retry_after=session.retry_after()) from None
    return parse_bundle(chain.encode(), key_pem)


def _challenge_of(
    authorization: messages.AuthorizationResource, kind: str, name: str
) -> messages.ChallengeBody:
    offered = [c for c in authorization.body.challenges if challenge_type(c) == kind]
    if not offered:
        types = ", ".join(sorted({challenge_type(c) for c in authorization.body.challenges}))
        raise ChallengeError(
            f"the CA offers no {kind} challenge for {name} (it offers: {types})",
            challenge=kind,
            domain=name,
        )
    return offered[0]


async def _pause(session: AcmeSession, delay: float, deadline: float) -> float:
    loop = asyncio.get_running_loop()
    suggested = session.retry_after()
    wait = delay
    if suggested is not None:
        import datetime as dt

        wait = max((suggested - dt.datetime.now(dt.UTC)).total_seconds(), delay)
    wait = min(wait, max(deadline - loop.time(), 0.0))
    await asyncio.sleep(wait)  # polling a remote server at the pace it asks for
    return min(delay * 2, _LONGEST_POLL)


async def _until_valid(
    session: AcmeSession,
    authorization: messages.AuthorizationResource,
    kind: str,
    deadline: float,
) -> None:
    delay = _FIRST_POLL
    name = authorization.body.identifier.value
    while True:
        authorization = await asyncio.to_thread(session.poll, authorization)
        status = authorization.body.status.name
        if status == "valid":
            return
        if status not in {"pending", "processing"}:
            problems = [
                str(c.error.detail)
                for c in authorization.body.challenges
                if c.error is not None and c.error.detail
            ]
            detail = "; ".join(problems) or f"authorization is {status}"
            raise ChallengeError(
                f"the CA could not validate {kind} for {name}: {detail}",
                challenge=kind,
                domain=name,
            )
        delay = await _pause(session, delay, deadline)


async def _finalize(
    session: AcmeSession, order: messages.OrderResource, deadline: float
) -> messages.OrderResource:
    domain = order.body.identifiers[0].value
    delay = _FIRST_POLL
    finalized = False
    while True:
        body = await asyncio.to_thread(session.order_state, order)
        status = body.status.name
        if status == "valid":
            updated: messages.OrderResource = order.update(body=body)
            return updated
        if status == "ready" and not finalized:
            order = await asyncio.to_thread(session.finalize, order)
            finalized = True
            continue
        if status == "invalid":
            detail = body.error.detail if body.error is not None else "no detail given"
            raise AcmeOrderError(
                f"the CA turned the order for {domain} invalid: {detail}",
                acme_type=body.error.typ if body.error is not None else None,
                domain=domain,
            )
        delay = await _pause(session, delay, deadline)


async def _withdraw(
    solver: ChallengeSolver, name: str, challenge: messages.ChallengeBody, session: AcmeSession
) -> None:
    try:
        await asyncio.shield(solver.withdraw(name, challenge, session.key))
    except asyncio.CancelledError:
        raise
    except Exception:
        import logging

        logging.getLogger("pymodular.acme").warning(
            "could not withdraw the %s challenge of %s", solver.kind, name, exc_info=True
        )
