"""Regenerate the bundled sample PDF, app/samples/harbor-light-report.pdf.

The text is our own (a fictional annual report), written so that each page holds
facts a question can be checked against. Run: ``python docs/make_sample.py``.
"""

from __future__ import annotations

from pathlib import Path

PAGES = [
    ("The Harbor Light Cooperative - Annual Report 2025",
     "The Harbor Light Cooperative restores and runs the old lighthouse at Cape Merrow, a granite tower built in "
     "1871 on the northern headland of Merrow Bay. The cooperative was founded in 2019 by forty-two residents of "
     "the village of Saltreach after the national maritime agency decommissioned the light.\n\n"
     "This report covers the calendar year 2025. It describes the restoration work, the finances, the people who "
     "did the work, and the plan for the next two years. Members approved the report at the general assembly "
     "held on 14 February 2026."),
    ("Restoration work in 2025",
     "The main project of 2025 was the replacement of the lantern room glazing. All twelve storm panes were "
     "replaced with laminated glass made by a glassworks in Tarrow. The work took nine weeks, from 3 March to "
     "5 May 2025, and the light was dark for the whole period.\n\n"
     "The original Fresnel lens, a second-order lens made in Paris in 1870, was cleaned and re-seated on a new "
     "mercury-free rotation bearing. The light now shows two white flashes every ten seconds, as it did in 1871, "
     "and is visible for 18 nautical miles in clear weather.\n\n"
     "The keeper's cottage roof was re-slated with 3,400 reclaimed slates from a barn in the same parish."),
    ("Finances",
     "Income in 2025 was 186,400 euros. Visitor tickets brought in 71,200 euros, membership fees 24,800 euros, "
     "and a heritage grant from the regional council 90,400 euros.\n\n"
     "Spending was 171,900 euros, of which the glazing project cost 98,300 euros and the roof 31,750 euros. "
     "The remainder went on insurance, electricity, and the part-time salaries of the two guides.\n\n"
     "The year closed with a surplus of 14,500 euros, which the general assembly voted to put into the "
     "maintenance reserve. The reserve now stands at 52,000 euros."),
    ("People",
     "The restoration team is led by Ingrid Solheim, a retired marine engineer who joined the cooperative in "
     "2021. The glazing was installed by Tomas Arrieta and his crew of three glaziers.\n\n"
     "The cooperative's chair is Nadia Kovac, elected in 2024 for a three-year term. The treasurer is Peter "
     "Lindqvist. Membership grew from 310 to 356 members during 2025.\n\n"
     "Volunteers gave an estimated 5,200 hours of work, mostly guiding tours and painting the tower's iron "
     "gallery railing."),
    ("Plans for 2026 and 2027",
     "In 2026 the cooperative will repaint the tower exterior with lime-based paint, at an estimated cost of "
     "44,000 euros, and open a small museum in the former oil store. The museum will show the logbooks kept by "
     "the keepers between 1871 and 1968.\n\n"
     "In 2027 the cooperative plans to install a solar array on the cottage roof so that the light runs "
     "without grid power during summer. A feasibility study by the University of Tarrow found that 24 panels "
     "would cover 80 percent of the light's yearly electricity use."),
]


SAMPLE = Path(__file__).resolve().parents[1] / "app" / "samples" / "harbor-light-report.pdf"


def main(out: Path = SAMPLE) -> None:
    """Write the sample PDF."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(__import__("datetime").datetime(2026, 1, 1))  # byte-stable output
    pdf.set_auto_page_break(auto=True, margin=20)
    for title, body in PAGES:
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=16)
        pdf.multi_cell(0, 9, title)
        pdf.ln(4)
        pdf.set_font("Helvetica", size=11)
        for para in body.split("\n\n"):
            pdf.multi_cell(0, 6, para)
            pdf.ln(3)
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))


if __name__ == "__main__":
    main()
