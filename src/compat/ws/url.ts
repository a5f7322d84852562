// The URL of a client WebSocket as ws reads it: http(s) becomes ws(s); other schemes,
// an empty ws+unix path and a fragment are refused with ws's messages.

/** The URL to connect to (http(s) as ws(s)), or why it cannot be one (ws's messages). */
export function parseTarget(address: string | URL): { url: URL; error?: SyntaxError } {
  let url: URL;
  if (address instanceof URL) {
    url = address;
  } else {
    try {
      url = new URL(address);
    } catch {
      throw new SyntaxError(`Invalid URL: ${address}`);
    }
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    url = new URL(url);
    url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  }
  const secure = url.protocol === 'wss:';
  const ipc = url.protocol === 'ws+unix:';
  let message: string | undefined;
  if (url.protocol !== 'ws:' && !secure && !ipc) {
    message = 'The URL\'s protocol must be one of "ws:", "wss:", "http:", "https:", or "ws+unix:"';
  } else if (ipc && !url.pathname) {
    message = "The URL's pathname is empty";
  } else if (url.hash) {
    message = 'The URL contains a fragment identifier';
  }
  return message === undefined ? { url } : { url, error: new SyntaxError(message) };
}
