interface Comment {
  author: string;
  body: string;
}

export function renderComment(el: HTMLElement, c: Comment): void {
  el.innerHTML = '<b>' + c.author + '</b>: ' + c.body;
}

export function renderCommentSafe(el: HTMLElement, c: Comment): void {
  el.textContent = `${c.author}: ${c.body}`;
}

export function sessionToken(): string {
  return Math.random().toString(36).slice(2);
}
