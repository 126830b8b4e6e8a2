/**
 * The one place that imports `ws` (STYLE.md: a third-party package behind one wrapper): a
 * WebSocket server in noServer mode, handed upgrades the UI server has already checked.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';

/** The part of a WebSocket the bridge uses. */
export interface UiSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
  onMessage(fn: (text: string) => void): void;
  onClose(fn: () => void): void;
  /** Bytes queued but not yet sent: the bridge pauses API streams while this is large. */
  readonly bufferedAmount: number;
}

export interface UiSocketServer {
  /** Completes the handshake of an upgrade request already accepted by the guard. */
  accept(req: IncomingMessage, socket: Duplex, head: Buffer, onSocket: (ws: UiSocket) => void): void;
  close(): void;
}

/** Frames larger than this are refused (a terminal keystroke or a control message is tiny). */
const MAX_PAYLOAD = 1 << 20;

export function createUiSocketServer(): UiSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD, perMessageDeflate: false });
  return {
    accept(req, socket, head, onSocket) {
      wss.handleUpgrade(req, socket, head, (ws: WsSocket) => {
        onSocket({
          send: (text) => {
            if (ws.readyState === ws.OPEN) ws.send(text);
          },
          close: (code, reason) => ws.close(code, reason),
          onMessage: (fn) => ws.on('message', (data, isBinary) => {
            if (!isBinary) fn(data.toString());
          }),
          onClose: (fn) => ws.on('close', fn),
          get bufferedAmount() {
            return ws.bufferedAmount;
          },
        });
      });
    },
    close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
    },
  };
}
