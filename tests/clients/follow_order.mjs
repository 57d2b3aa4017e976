// Places an order over HTTP and follows it with graphql-ws, the reference client of
// the graphql-transport-ws protocol, as a frontend would (Node's own WebSocket).
//
//   node follow_order.mjs '{"http": "...", "ws": "...", "token": "...", "productId": "..."}'
//
// Prints one JSON object: the order's id and every `orderUpdated` payload, or, when
// the server refuses the socket, the close frame's code and reason.
import { createClient } from "graphql-ws";

const { http, ws, token, productId } = JSON.parse(process.argv[2]);

const CREATE_ORDER = `mutation ($input: CreateOrderInput!) {
  createOrder(input: $input) { id status }
}`;
const ORDER_UPDATED = `subscription ($id: ID!) {
  orderUpdated(orderId: $id) { orderId version status currentStep }
}`;

async function createOrder() {
  if (!productId) return "no-such-order";
  const response = await fetch(http, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: CREATE_ORDER,
      variables: { input: { userId: "node-client", items: [{ productId, quantity: 1 }] } },
    }),
  });
  const body = await response.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data.createOrder.id;
}

let closed = null;
const client = createClient({
  url: ws,
  webSocketImpl: WebSocket,
  retryAttempts: 0,
  connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
  on: { closed: (event) => (closed = { code: event.code, reason: event.reason }) },
});

const orderId = await createOrder();
const updates = [];
try {
  for await (const result of client.iterate({ query: ORDER_UPDATED, variables: { id: orderId } })) {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    updates.push(result.data.orderUpdated);
  }
  console.log(JSON.stringify({ orderId, updates }));
} catch (error) {
  if (!closed) throw error;
  console.log(JSON.stringify({ orderId, updates, closed }));
} finally {
  await client.dispose();
}
