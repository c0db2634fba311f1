"""MIC's page → its spreadsheet links: relative URLs, Shift_JIS, labels, duplicates, non-files ignored."""

from __future__ import annotations

from sipcheck.update.page import FileLink, decode_page, file_links

MIC = "https://www.soumu.go.jp/main_sosiki/joho_tsusin/top/tel_number/number_shitei.html"


def real_shaped_page() -> bytes:
    """As MIC lays it out: one <li> per range, a PDF and an Excel link, sometimes an old file too."""
    fixed = "".join(
        f'<li>{d}から始まる市外局番[<a href="/main_content/00000{d}.pdf">PDF形式</a>、'
        f'<a href="/main_content/10000{d}.xls">Excel形式</a>]</li>\n'
        for d in range(1, 9)
    )
    html = f"""<html><head><meta charset="shift_jis"><title>電気通信番号指定状況</title></head><body>
<p>本ページに掲載している電気通信番号の指定状況は、令和8年9月1日時点のものです。</p>
<ul>
{fixed}<li>9から始まる市外局番[<a href="/main_content/200009.pdf">PDF形式</a>、
<a href="/main_content/200009.xls">Excel形式</a><a href="/main_content/100009.xls"><img src="x.gif"></a>]</li>
<li>IP電話の電話番号（050） [<a href="../../../../main_content/000697573.xlsx">Excel形式</a>]</li>
<li>着信課金機能（0120） [<a href="/main_content/000697577.XLSX?v=2">Excel形式</a>]</li>
<li>大量呼受付機能（0180）　指定なし</li>
<li>携帯電話（090） <a href="/main_content/000697580.xlsx#sheet1">Excel形式</a>
<a href="/main_content/000697580.xlsx">同じファイル</a></li>
</ul>
<table><tr><td>着信課金機能（0800）</td><td><a href="https://www.soumu.go.jp/main_content/000697579.xlsx">Excel</a></td></tr></table>
<p><a href="mailto:bango@soumu.go.jp">問い合わせ</a> <a href="javascript:void(0)">x.xls</a>
<a href="ftp://example.jp/a.xls">ftp</a> <a href="index.html">電気通信番号の利用・指定</a></p>
</body></html>"""
    return html.encode("cp932")


def test_links_of_a_page_shaped_like_mics() -> None:
    links = file_links(decode_page(real_shaped_page()), MIC)
    base = "https://www.soumu.go.jp/main_content/"
    assert [link.url for link in links] == [
        *[f"{base}10000{d}.xls" for d in range(1, 9)],
        f"{base}200009.xls",
        f"{base}100009.xls",
        f"{base}000697573.xlsx",
        f"{base}000697577.XLSX?v=2",
        f"{base}000697580.xlsx",
        f"{base}000697579.xlsx",
    ]
    by_url = {link.url: link for link in links}
    assert by_url[f"{base}100001.xls"] == FileLink(f"{base}100001.xls", "Excel形式", "1から始まる市外局番")
    assert by_url[f"{base}100009.xls"] == FileLink(f"{base}100009.xls", "", "9から始まる市外局番")
    assert by_url[f"{base}000697573.xlsx"].label == "IP電話の電話番号(050)"
    assert by_url[f"{base}000697580.xlsx"].text == "Excel形式"  # the first place of a duplicate
    assert by_url[f"{base}000697579.xlsx"].label == "着信課金機能(0800)"  # from the cell before
    assert by_url[f"{base}000697577.XLSX?v=2"].name == "000697577.XLSX"


def test_duplicate_without_text_takes_the_later_text() -> None:
    page = '<p><a href="a.xlsx"><img></a> <a href="a.xlsx">Excel形式</a></p>'
    assert file_links(page, "http://127.0.0.1/x/page.html") == [
        FileLink("http://127.0.0.1/x/a.xlsx", "Excel形式", "")
    ]


def test_base_element_and_percent_encoded_names() -> None:
    page = '<base href="https://mirror.example/files/"><li>050 <a href="%E7%95%AA%E5%8F%B7.xlsx">x</a></li>'
    (link,) = file_links(page, MIC)
    assert link.url == "https://mirror.example/files/%E7%95%AA%E5%8F%B7.xlsx"
    assert link.name == "番号.xlsx"
    assert link.label == "050"


def test_page_decoding() -> None:
    text = "<p>指定状況</p>"
    assert decode_page(text.encode("cp932")) == text  # MIC's own: Shift_JIS, whatever it declares
    assert decode_page(b'<meta charset="utf-8">' + text.encode()) == '<meta charset="utf-8">' + text
    assert decode_page(b"\xef\xbb\xbf" + text.encode()) == text
    assert decode_page(b"<p>\x82</p>") == "<p>\ufffd</p>"  # a damaged byte does not fail the update


def test_no_links() -> None:
    assert file_links("<p>メンテナンス中です</p><a href='a.pdf'>PDF</a>", MIC) == []
