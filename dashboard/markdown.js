// Just enough Markdown for the model card (headings, paragraphs, lists, tables, fenced code, inline code,
// bold, links and images), built as DOM nodes: text is never parsed as HTML, so a card cannot inject markup.
// Relative image and link targets resolve against `base` (the card's folder); other schemes are dropped.

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*)|(!\[[^\]]*\]\([^)\s]+\))|(\[[^\]]+\]\([^)\s]+\))/g;

function safeUrl(target, base) {
  const url = new URL(target, base);
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}

function inline(text, base, parent) {
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    parent.append(text.slice(last, match.index));
    const token = match[0];
    if (token.startsWith("`")) {
      parent.appendChild(element("code", token.slice(1, -1)));
    } else if (token.startsWith("**")) {
      parent.appendChild(element("strong", token.slice(2, -2)));
    } else {
      const [, label, target] = token.match(/^!?\[([^\]]*)\]\(([^)\s]+)\)$/);
      const href = safeUrl(target, base);
      if (token.startsWith("!") && href) {
        const image = document.createElement("img");
        image.src = href;
        image.alt = label;
        parent.appendChild(image);
      } else if (href) {
        const link = element("a", label);
        link.href = href;
        parent.appendChild(link);
      } else {
        parent.append(label);
      }
    }
    last = match.index + token.length;
  }
  parent.append(text.slice(last));
  return parent;
}

function element(name, text = "") {
  const node = document.createElement(name);
  node.textContent = text;
  return node;
}

const cells = (line) => line.trim().replace(/^\||\|$/g, "").split("|").map((cell) => cell.trim());

function table(lines, base) {
  const node = document.createElement("table");
  const head = node.createTHead().insertRow();
  for (const cell of cells(lines[0])) {
    head.appendChild(inline(cell, base, document.createElement("th")));
  }
  const body = node.createTBody();
  for (const line of lines.slice(2)) {
    const row = body.insertRow();
    for (const cell of cells(line)) {
      inline(cell, base, row.insertCell());
    }
  }
  return node;
}

// The blocks of `text` as DOM nodes, in order.
export function renderMarkdown(text, base) {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  const blocks = [];
  let index = 0;
  const take = (test) => {
    const taken = [];
    while (index < lines.length && test(lines[index])) {
      taken.push(lines[index]);
      index += 1;
    }
    return taken;
  };
  while (index < lines.length) {
    const line = lines[index];
    const heading = line.match(/^(#{1,4})\s+(.*)$/);
    if (!line.trim()) {
      index += 1;
    } else if (heading) {
      // The page has its own h1/h2: card headings start at h3.
      blocks.push(inline(heading[2], base, document.createElement(`h${Math.min(6, heading[1].length + 2)}`)));
      index += 1;
    } else if (line.startsWith("```")) {
      index += 1;
      const code = take((l) => !l.startsWith("```"));
      index += 1;
      const pre = document.createElement("pre");
      pre.appendChild(element("code", code.join("\n")));
      blocks.push(pre);
    } else if (line.trim().startsWith("|")) {
      blocks.push(table(take((l) => l.trim().startsWith("|")), base));
    } else if (/^\s*[-*]\s+/.test(line)) {
      const list = document.createElement("ul");
      for (const item of take((l) => /^\s*[-*]\s+/.test(l))) {
        list.appendChild(inline(item.replace(/^\s*[-*]\s+/, ""), base, document.createElement("li")));
      }
      blocks.push(list);
    } else {
      const paragraph = take((l) => l.trim() && !/^(#{1,4}\s|```|\s*\||\s*[-*]\s)/.test(l));
      blocks.push(inline(paragraph.join(" "), base, document.createElement("p")));
    }
  }
  return blocks;
}
