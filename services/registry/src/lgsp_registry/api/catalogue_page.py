"""The catalogue as one server-rendered HTML page (Vietnamese with English beside).

No script, no external resource: the page works on a closed network. Every value from the
registry goes through `html.escape`.
"""

from __future__ import annotations

from html import escape
from string import Template

from lgsp_registry.domain.catalogue import Catalogue, CatalogueContract, CatalogueTopic

PAGE = Template("""<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Danh mục dữ liệu (Data catalogue) – LGSP</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#1b1b1b}
h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.muted{color:#666}code{font-size:.95em}
</style>
</head>
<body>
<h1>Danh mục dữ liệu (Data catalogue)</h1>
<p class="muted">Cập nhật lúc (generated at) $generated_at · $org_count cơ quan (organisations)
· $topic_count topic · <a href="/asyncapi.yaml">AsyncAPI</a> · <a href="/v1/catalogue">JSON</a></p>
<h2 id="organisations">Cơ quan (Organisations)</h2>
<table><thead><tr><th>Mã (Id)</th><th>Mã định danh (Agency code)</th><th>Tên (Name)</th>
<th>Topic</th></tr></thead><tbody>
$organisations
</tbody></table>
$topics
</body>
</html>
""")


def _row(*cells: str) -> str:
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _table(headers: list[str], rows: list[str], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{empty}</p>'
    head = "".join(f"<th>{h}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _fields(items: list[str]) -> str:
    return ", ".join(f"<code>{escape(item)}</code>" for item in items)


def _contract(contract: CatalogueContract) -> str:
    rows = [
        _row(
            f"<code>{escape(f.name)}</code>",
            escape(f.type),
            "có (yes)" if f.required else "không (no)",
            escape(f.description),
        )
        for f in contract.fields
    ]
    headers = ["Trường (Field)", "Kiểu (Type)", "Bắt buộc (Required)", "Mô tả (Description)"]
    return (
        f"<h4>Phiên bản (Version) {contract.version} · <code>{escape(contract.id)}</code></h4>"
        f"<p>{escape(contract.description)}</p>"
        + _table(headers, rows, "Không có trường (No fields)")
    )


def _topic(topic: CatalogueTopic) -> str:
    sources = [
        _row(
            escape(s.id),
            escape(s.name),
            escape(s.organisation_id),
            escape(s.cadence),
            escape(s.status),
        )
        for s in topic.sources
    ]
    kpis = [
        _row(
            escape(k.id),
            f"{escape(k.title_vi)} ({escape(k.title_en)})",
            str(k.version),
            _fields(k.fields),
        )
        for k in topic.kpis
    ]
    consumers = [
        _row(escape(c.name), escape(c.organisation_id), escape(c.purpose), _fields(c.fields))
        for c in topic.consumers
    ]
    title = escape(topic.contracts[0].title) if topic.contracts else ""
    parts = [
        f'<h2 id="{escape(topic.topic)}"><code>{escape(topic.topic)}</code> {title}</h2>',
        f"<p>Chủ sở hữu (Owner): {escape(topic.owner_id or '–')}</p>",
        "<h3>Nguồn dữ liệu (Sources)</h3>",
        _table(
            [
                "Mã (Id)",
                "Tên (Name)",
                "Cơ quan (Organisation)",
                "Tần suất (Cadence)",
                "Trạng thái (Status)",
            ],
            sources,
            "Chưa có nguồn (No source yet)",
        ),
        "<h3>Hợp đồng dữ liệu (Contract versions)</h3>",
        "".join(_contract(c) for c in topic.contracts)
        or '<p class="muted">Chưa có hợp đồng (No contract yet)</p>',
        "<h3>Chỉ số (KPIs)</h3>",
        _table(
            ["Mã (Id)", "Tên (Title)", "Phiên bản (Version)", "Trường (Fields)"],
            kpis,
            "Chưa có chỉ số (No KPI yet)",
        ),
        "<h3>Bên sử dụng được duyệt (Approved consumers)</h3>",
        _table(
            ["Tên (Name)", "Cơ quan (Organisation)", "Mục đích (Purpose)", "Trường (Fields)"],
            consumers,
            "Chưa có bên sử dụng (No approved consumer yet)",
        ),
    ]
    return f'<section class="topic">{"".join(parts)}</section>'


def render_catalogue(catalogue: Catalogue) -> str:
    """Render the catalogue page."""
    organisations = [
        _row(
            escape(o.id),
            escape(o.code),
            f"{escape(o.name_vi)} ({escape(o.name_en)})",
            " ".join(f'<a href="#{escape(t)}"><code>{escape(t)}</code></a>' for t in o.topics),
        )
        for o in catalogue.organisations
    ]
    return PAGE.substitute(
        generated_at=escape(catalogue.generated_at.isoformat(timespec="seconds")),
        org_count=len(catalogue.organisations),
        topic_count=len(catalogue.topics),
        organisations="\n".join(organisations),
        topics="\n".join(_topic(t) for t in catalogue.topics),
    )
