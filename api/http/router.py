"""The GraphQL router: GraphQL over HTTP and WebSocket, routed to the schema.

It routes, and hands each concern to the module that holds it: cached
catalog answers to `api.guards.read_cache`, JSON to `api.http.json_codec`,
the media type of an answer to `api.http.media_types`, what HTTP caches may
keep of it to `api.http.http_caching`, documents sent by hash to
`api.guards.persisted_documents`,
GraphiQL's page to `api.http.graphiql`, a socket's sign-in and its cap to
`api.auth.sign_in`, and the protocol's own errors to `api.http.ws_protocol`.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from cross_web import HTTPException
from fastapi import Request, Response, status
from fastapi.responses import HTMLResponse
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from api.auth.sign_in import sign_in_socket
from api.auth.sockets import SocketsPerCaller
from api.errors import ApiError, coded
from api.graphql.context import Context
from api.guards.persisted_documents import PersistedDocuments
from api.guards.read_cache import Kind, answer_through
from api.http import http_caching
from api.http.graphiql import graphiql_page
from api.http.json_codec import decode_json, encode_json
from api.http.media_types import GRAPHQL_RESPONSE, JSON, is_request_error, response_media_type
from api.http.ws_protocol import CodedProtocolErrors, TextFrames
from domain.errors import ErrorCode
from observability.metrics import ApiMetrics


class ShopGraphQLRouter(GraphQLRouter[Context, None]):
    """GraphQL at its prefix; a WebSocket must sign in with its `connection_init`.

    The token travels as `{"Authorization": "Bearer …"}` in the init payload; a
    socket without a valid one, or of a caller who already holds as many sockets
    as `sockets` allows, is closed (4403) before any subscription runs.
    """

    graphql_transport_ws_handler_class = CodedProtocolErrors
    websocket_adapter_class = TextFrames

    def __init__(
        self,
        *args: Any,
        sockets: SocketsPerCaller,
        metrics: ApiMetrics,
        documents: PersistedDocuments | None = None,
        public_max_age_seconds: int = 0,
        graphiql_token: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._sockets = sockets
        self._metrics = metrics
        self._documents = documents
        self._public_max_age_seconds = public_max_age_seconds
        self._graphiql_token = graphiql_token

    async def execute_single(
        self,
        request: Request,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Through the read cache when the caller may share cached answers, with the
        `Cache-Control` that HTTP caches heed; a mutation over GET is a 405.

        Relies on batching being off (it is: Strawberry's default): the items of a
        batch would share one context, and with it `operation_kind`.
        """
        self._known_text(request_data)
        outcomes: list[str] = []

        async def execute() -> ExecutionResult:
            return await super(ShopGraphQLRouter, self).execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )

        def counted(outcome: str) -> None:
            outcomes.append(outcome)
            self._metrics.read_cache.labels(outcome).inc()

        cache, scope = context.services.read_cache, context.cache_scope()
        try:
            if cache is None or scope is None or not request_data.query:
                result = await execute()
            else:
                result = await answer_through(
                    cache,
                    scope=scope,
                    request=request_data,
                    execute=execute,
                    kind=lambda: context.operation_kind,
                    counted=counted,
                )
        except HTTPException as refused:
            if request.method != "GET" or not isinstance(
                refused.__cause__, InvalidOperationTypeError
            ):
                raise
            # A GET must change nothing, so a cache or a prefetch may send it freely.
            sub_response.status_code = status.HTTP_405_METHOD_NOT_ALLOWED
            sub_response.headers["allow"] = "POST"
            error = ApiError(ErrorCode.VALIDATION, f"{refused.reason}: send it with POST")
            result = ExecutionResult(data=None, errors=[coded(error)])
        catalog_read = "hit" in outcomes or context.operation_kind is Kind.CATALOG_READ
        sub_response.headers["cache-control"] = http_caching.cache_control(
            shareable=request.method == "GET" and catalog_read and not result.errors,
            signed_in=context.is_signed_in(),
            max_age_seconds=self._public_max_age_seconds,
        )
        sub_response.headers["vary"] = http_caching.VARY
        return result

    def _known_text(self, request_data: GraphQLRequestData) -> None:
        """Fills in the text of a document sent by a hash this process knows, so that
        the read cache can answer it (the schema's guard checks it again)."""
        extensions = request_data.extensions
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if request_data.query is None and self._documents is not None and isinstance(digest, str):
            request_data.query = self._documents.text_for(digest)

    async def get_sub_response(self, request: Request) -> Response:
        """The response's status and headers, in the media type the caller accepts
        (kept on the request, for `process_result`)."""
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = response_media_type(request.headers.get("accept"))
        request.state.sub_response = sub_response
        return sub_response

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """Under `application/graphql-response+json`, a request refused before it ran
        is a 400 with no `data` entry, as the GraphQL over HTTP spec asks."""
        response = await super().process_result(request, result)
        sub_response: Response = request.state.sub_response
        refused_early = sub_response.media_type == GRAPHQL_RESPONSE and is_request_error(result)
        if refused_early and sub_response.status_code in (None, status.HTTP_200_OK):
            sub_response.status_code = status.HTTP_400_BAD_REQUEST
            response.pop("data", None)
        return response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = Response(
            self.encode_json(response_data),
            media_type=sub_response.media_type or JSON,
            status_code=sub_response.status_code or status.HTTP_200_OK,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        return response

    def encode_json(self, data: object) -> bytes:
        return encode_json(data)

    def decode_json(self, data: str | bytes) -> object:
        return decode_json(data)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """GraphiQL for a browser's GET of the page, not for a document sent by its hash
        (`?extensions=…` and no `query`), whatever the caller accepts."""
        by_hash = request.query_params.get("extensions") is not None
        return not by_hash and super().should_render_graphql_ide(request)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self._graphiql_page)

    @cached_property
    def _graphiql_page(self) -> str:
        """Built once: it is the same for every request."""
        return graphiql_page(self.graphql_ide_html, token=self._graphiql_token)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        authorization = params.get("Authorization", params.get("authorization"))
        signed_in = await sign_in_socket(context.services.verifier, self._sockets, authorization)
        if isinstance(signed_in, str):
            context.rejection = signed_in  # the close frame's reason (see `api.http.ws_protocol`)
            raise ConnectionRejectionError({"reason": signed_in})
        context.signed_in_socket(*signed_in)
        return await super().on_ws_connect(context)

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            response = await super().run(request, context, root_value)
            if isinstance(request, Request) and isinstance(response, Response):
                return http_caching.with_validator(response, request.headers.get("if-none-match"))
            return response
        finally:
            # The socket has closed: its caller may open another.
            if isinstance(context, Context) and context.socket_caller is not None:
                self._sockets.give_back(context.socket_caller)
                context.socket_caller = None
